//! Video and audio details for the stream snapshot, read from sequence
//! headers: width, height, profile and frame rate from an H.264 SPS;
//! sample rate and channels from an AAC AudioSpecificConfig.
//!
//! # Contract
//!
//! * [`avc_details`] takes an AVC sequence header tag body (legacy codec 7
//!   with AVCPacketType 0, or E-RTMP SequenceStart `avc1`), finds the first
//!   SPS of its AVCDecoderConfigurationRecord and parses it with
//!   [`parse_sps`] (ITU-T H.264 §7.3.2.1.1: exp-Golomb fields, the
//!   high-profile chroma/bit-depth/scaling-list branch, frame cropping in
//!   chroma units, field coding, and the VUI up to its timing info).
//! * [`aac_details`] takes an AAC sequence header tag body and reuses
//!   [`crate::proto::flv::aac_config_summary`].
//! * [`video_snapshot`] and [`audio_snapshot`] turn a stream's cached
//!   sequence header (or, for audio codecs without one, any audio payload)
//!   into the API's [`VideoSnapshot`] / [`AudioSnapshot`]: codec name and
//!   FourCC for every codec, plus size, profile and rate where the header
//!   says them.
//! * All are pure, bounded by their input, and answer `None` for anything
//!   cut short or out of range; they run once per sequence header or per
//!   snapshot, never per frame.

use super::api::{AudioSnapshot, VideoSnapshot};
use crate::proto::flv::{self, AudioCodec, VideoCodec, VideoPacket};

/// What an SPS says about the picture.
#[derive(Debug, Clone, PartialEq)]
pub struct AvcDetails {
    pub profile_idc: u8,
    pub level_idc: u8,
    pub constraint_flags: u8,
    pub chroma_format_idc: u32,
    pub bit_depth_luma: u32,
    /// Displayed size, after cropping.
    pub width: u32,
    pub height: u32,
    /// From the VUI timing info (`time_scale / (2 * num_units_in_tick)`).
    pub fps: Option<f64>,
}

impl AvcDetails {
    /// "High 3.0", "Constrained Baseline 3.1", ...
    pub fn profile_label(&self) -> String {
        format!(
            "{} {}.{}",
            avc_profile_name(self.profile_idc, self.constraint_flags),
            self.level_idc / 10,
            self.level_idc % 10
        )
    }
}

/// The name of an H.264 profile.
pub fn avc_profile_name(profile_idc: u8, constraint_flags: u8) -> &'static str {
    let set1 = constraint_flags & 0x40 != 0;
    let set3 = constraint_flags & 0x10 != 0;
    match profile_idc {
        66 if set1 => "Constrained Baseline",
        66 => "Baseline",
        77 => "Main",
        88 => "Extended",
        100 => "High",
        110 if set3 => "High 10 Intra",
        110 => "High 10",
        122 => "High 4:2:2",
        244 => "High 4:4:4 Predictive",
        44 => "CAVLC 4:4:4 Intra",
        _ => "Unknown",
    }
}

/// What an AudioSpecificConfig says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AacDetails {
    pub object_type: u8,
    pub sample_rate: u32,
    /// Channel configuration (0 = given in the program config element).
    pub channels: u8,
}

impl AacDetails {
    /// "LC", "HE-AAC", "Main", ...
    pub fn profile_name(&self) -> &'static str {
        match self.object_type {
            1 => "Main",
            2 => "LC",
            3 => "SSR",
            4 => "LTP",
            5 => "HE-AAC",
            29 => "HE-AACv2",
            _ => "Unknown",
        }
    }
}

/// Details of an AAC sequence header tag body.
pub fn aac_details(seq_header_body: &[u8]) -> Option<AacDetails> {
    let (object_type, sample_rate, channels) = flv::aac_config_summary(seq_header_body)?;
    Some(AacDetails {
        object_type,
        sample_rate,
        channels,
    })
}

/// Details of an AVC sequence header tag body (its first SPS).
pub fn avc_details(seq_header_body: &[u8]) -> Option<AvcDetails> {
    let info = flv::classify_video(seq_header_body)?;
    if info.packet != VideoPacket::SequenceHeader {
        return None;
    }
    let is_avc = match info.codec {
        VideoCodec::Legacy(7) => true,
        VideoCodec::FourCc(cc) => &cc == b"avc1",
        VideoCodec::Legacy(_) => false,
    };
    if !is_avc {
        return None;
    }
    // Both forms put the record after 5 bytes (header byte + 4).
    let rec = seq_header_body.get(5..)?;
    // configurationVersion 1, profile, compat, level, lengthSize, numSPS.
    if rec.len() < 8 || rec[0] != 1 || rec[5] & 0x1F == 0 {
        return None;
    }
    let len = u16::from_be_bytes([rec[6], rec[7]]) as usize;
    parse_sps(rec.get(8..8 + len)?)
}

/// The API's video part from a video sequence header tag body. `fps_hint`
/// (e.g. onMetaData `framerate`) is used when the SPS has no timing info.
/// `None` if the body is not a video payload.
pub fn video_snapshot(seq_header_body: &[u8], fps_hint: Option<f64>) -> Option<VideoSnapshot> {
    let info = flv::classify_video(seq_header_body)?;
    let fourcc = match info.codec {
        VideoCodec::FourCc(cc) if cc != [0; 4] => Some(String::from_utf8_lossy(&cc).into_owned()),
        VideoCodec::Legacy(7) => Some("avc1".to_string()),
        VideoCodec::Legacy(12) => Some("hvc1".to_string()),
        _ => None,
    };
    let details = avc_details(seq_header_body);
    Some(VideoSnapshot {
        codec: flv::codec_name(info.codec).to_string(),
        fourcc,
        width: details.as_ref().map(|d| d.width),
        height: details.as_ref().map(|d| d.height),
        fps: details.as_ref().and_then(|d| d.fps).or(fps_hint),
        profile: details.map(|d| d.profile_label()),
    })
}

/// The API's audio part from an audio payload: an AAC sequence header gives
/// the AudioSpecificConfig's rate and channels; another legacy codec gives
/// the SoundRate / SoundType bits of its first byte; an E-RTMP FourCC gives
/// the codec only. `None` if the payload is empty.
pub fn audio_snapshot(payload: &[u8]) -> Option<AudioSnapshot> {
    let codec = flv::audio_codec(payload)?;
    let name = flv::codec_name(codec).to_string();
    if let Some(aac) = aac_details(payload) {
        return Some(AudioSnapshot {
            codec: name,
            sample_rate: Some(aac.sample_rate),
            channels: Some(aac.channels),
        });
    }
    let (sample_rate, channels) = match codec {
        AudioCodec::Legacy(10) | AudioCodec::FourCc(_) => (None, None),
        AudioCodec::Legacy(format) => {
            let b0 = payload[0];
            let rate = match (format, (b0 >> 2) & 3) {
                // Nellymoser 8 kHz, G.711 and MP3 8 kHz have fixed rates.
                (5 | 7 | 8 | 14, _) => 8000,
                (4, _) => 16000,
                (_, 0) => 5512,
                (_, 1) => 11025,
                (_, 2) => 22050,
                _ => 44100,
            };
            (Some(rate), Some(1 + (b0 & 1)))
        }
    };
    Some(AudioSnapshot {
        codec: name,
        sample_rate,
        channels,
    })
}

/// Removes emulation-prevention bytes (`00 00 03` → `00 00`).
fn unescape_rbsp(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// Reads bits MSB first, with exp-Golomb codes.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> Option<u32> {
        let byte = *self.data.get(self.pos / 8)?;
        let b = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(u32::from(b))
    }

    fn bits(&mut self, n: u32) -> Option<u32> {
        (0..n).try_fold(0u32, |v, _| Some((v << 1) | self.bit()?))
    }

    fn flag(&mut self) -> Option<bool> {
        Some(self.bit()? == 1)
    }

    /// ue(v): at most 31 leading zeros (values up to 2^32 - 2).
    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        let rest = self.bits(zeros)?;
        Some(((1u64 << zeros) - 1 + u64::from(rest)).min(u64::from(u32::MAX)) as u32)
    }

    /// se(v).
    fn se(&mut self) -> Option<i64> {
        let k = i64::from(self.ue()?);
        Some(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }
}

/// Profiles whose SPS carries chroma_format_idc and bit depths.
const HIGH_PROFILES: [u8; 13] = [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135];

/// Parses an SPS NAL unit (with its one-byte NAL header, type 7).
pub fn parse_sps(nal: &[u8]) -> Option<AvcDetails> {
    if nal.first()? & 0x1F != 7 {
        return None;
    }
    let rbsp = unescape_rbsp(&nal[1..]);
    let mut r = Bits {
        data: &rbsp,
        pos: 0,
    };
    let profile_idc = r.bits(8)? as u8;
    let constraint_flags = r.bits(8)? as u8;
    let level_idc = r.bits(8)? as u8;
    r.ue()?; // seq_parameter_set_id
    let (chroma_format_idc, separate_planes, bit_depth_luma) =
        if HIGH_PROFILES.contains(&profile_idc) {
            chroma_and_depth(&mut r)?
        } else {
            (1, false, 8)
        };
    skip_frame_num_and_poc(&mut r)?;
    r.ue()?; // max_num_ref_frames
    r.flag()?; // gaps_in_frame_num_value_allowed_flag
    let width_mbs = u64::from(r.ue()?) + 1;
    let height_map_units = u64::from(r.ue()?) + 1;
    let frame_mbs_only = r.flag()?;
    if !frame_mbs_only {
        r.flag()?; // mb_adaptive_frame_field_flag
    }
    r.flag()?; // direct_8x8_inference_flag
    let crop = if r.flag()? {
        [r.ue()?, r.ue()?, r.ue()?, r.ue()?].map(u64::from)
    } else {
        [0; 4]
    };
    // Crop units (§7.4.2.1.1, Table 6-1).
    let chroma_array_type = if separate_planes {
        0
    } else {
        chroma_format_idc
    };
    let (sub_w, sub_h) = match chroma_array_type {
        1 => (2, 2),
        2 => (2, 1),
        _ => (1, 1),
    };
    let field = if frame_mbs_only { 1 } else { 2 };
    let width = (width_mbs * 16).checked_sub(sub_w * (crop[0] + crop[1]))?;
    let height =
        (field * height_map_units * 16).checked_sub(sub_h * field * (crop[2] + crop[3]))?;
    // A VUI cut short costs only the frame rate, not the size.
    let fps = match r.flag() {
        Some(true) => vui_fps(&mut r),
        _ => None,
    };
    Some(AvcDetails {
        profile_idc,
        level_idc,
        constraint_flags,
        chroma_format_idc,
        bit_depth_luma,
        width: u32::try_from(width).ok()?,
        height: u32::try_from(height).ok()?,
        fps,
    })
}

/// chroma_format_idc, separate_colour_plane_flag, luma bit depth; skips the
/// scaling matrices.
fn chroma_and_depth(r: &mut Bits<'_>) -> Option<(u32, bool, u32)> {
    let chroma = r.ue()?;
    if chroma > 3 {
        return None;
    }
    let separate = chroma == 3 && r.flag()?;
    let depth_luma = r.ue()? + 8;
    r.ue()?; // bit_depth_chroma_minus8
    r.flag()?; // qpprime_y_zero_transform_bypass_flag
    if r.flag()? {
        let lists = if chroma == 3 { 12 } else { 8 };
        for i in 0..lists {
            if r.flag()? {
                skip_scaling_list(r, if i < 6 { 16 } else { 64 })?;
            }
        }
    }
    Some((chroma, separate, depth_luma))
}

/// scaling_list() (§7.3.2.1.1.1): delta-coded until next_scale is 0.
fn skip_scaling_list(r: &mut Bits<'_>, size: usize) -> Option<()> {
    let mut last = 8i64;
    let mut next = 8i64;
    for _ in 0..size {
        if next != 0 {
            next = (last + r.se()? + 256).rem_euclid(256);
        }
        if next != 0 {
            last = next;
        }
    }
    Some(())
}

fn skip_frame_num_and_poc(r: &mut Bits<'_>) -> Option<()> {
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        0 => {
            r.ue()?; // log2_max_pic_order_cnt_lsb_minus4
        }
        1 => {
            r.flag()?; // delta_pic_order_always_zero_flag
            r.se()?; // offset_for_non_ref_pic
            r.se()?; // offset_for_top_to_bottom_field
            let cycle = r.ue()?;
            if cycle > 255 {
                return None;
            }
            for _ in 0..cycle {
                r.se()?;
            }
        }
        2 => {}
        _ => return None,
    }
    Some(())
}

/// Frame rate from the VUI (Annex E.1.1), if it carries timing info.
fn vui_fps(r: &mut Bits<'_>) -> Option<f64> {
    if r.flag()? {
        // aspect_ratio_info_present_flag
        if r.bits(8)? == 255 {
            r.bits(32)?; // sar_width, sar_height
        }
    }
    if r.flag()? {
        r.flag()?; // overscan_appropriate_flag
    }
    if r.flag()? {
        // video_signal_type_present_flag
        r.bits(4)?; // video_format, video_full_range_flag
        if r.flag()? {
            r.bits(24)?; // colour primaries, transfer, matrix
        }
    }
    if r.flag()? {
        r.ue()?; // chroma_sample_loc_type_top_field
        r.ue()?; // chroma_sample_loc_type_bottom_field
    }
    if !r.flag()? {
        return None; // no timing_info
    }
    let units = r.bits(32)?;
    let scale = r.bits(32)?;
    if units == 0 || scale == 0 {
        return None;
    }
    let fps = f64::from(scale) / (2.0 * f64::from(units));
    Some((fps * 1000.0).round() / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes bits MSB first, with exp-Golomb codes, to build SPS units.
    #[derive(Default)]
    struct BitWriter {
        bytes: Vec<u8>,
        nbits: usize,
    }

    impl BitWriter {
        fn bit(&mut self, b: u32) -> &mut Self {
            if self.nbits.is_multiple_of(8) {
                self.bytes.push(0);
            }
            if b != 0 {
                *self.bytes.last_mut().unwrap() |= 0x80 >> (self.nbits % 8);
            }
            self.nbits += 1;
            self
        }
        fn bits(&mut self, n: u32, v: u32) -> &mut Self {
            for i in (0..n).rev() {
                self.bit((v >> i) & 1);
            }
            self
        }
        fn ue(&mut self, v: u32) -> &mut Self {
            let x = u64::from(v) + 1;
            let len = 64 - x.leading_zeros();
            self.bits(len - 1, 0);
            for i in (0..len).rev() {
                self.bit(((x >> i) & 1) as u32);
            }
            self
        }
        fn se(&mut self, v: i32) -> &mut Self {
            let k = if v > 0 { 2 * v - 1 } else { -2 * v };
            self.ue(k as u32)
        }
        /// rbsp_trailing_bits, then emulation prevention, NAL header 0x67.
        fn nal(&mut self) -> Vec<u8> {
            self.bit(1);
            while !self.nbits.is_multiple_of(8) {
                self.bit(0);
            }
            let mut out = vec![0x67];
            let mut zeros = 0;
            for &b in &self.bytes {
                if zeros >= 2 && b <= 3 {
                    out.push(3);
                    zeros = 0;
                }
                zeros = if b == 0 { zeros + 1 } else { 0 };
                out.push(b);
            }
            out
        }
    }

    struct Sps {
        profile: u8,
        chroma: u32,
        frame_mbs_only: bool,
        w_mbs: u32,
        h_units: u32,
        crop: [u32; 4],
        poc_type: u32,
        scaling: bool,
        timing: Option<(u32, u32)>,
    }

    fn build(s: &Sps) -> Vec<u8> {
        let mut w = BitWriter::default();
        w.bits(8, u32::from(s.profile)).bits(8, 0).bits(8, 31).ue(0);
        if HIGH_PROFILES.contains(&s.profile) {
            w.ue(s.chroma);
            if s.chroma == 3 {
                w.bit(0);
            }
            w.ue(2).ue(2).bit(0).bit(u32::from(s.scaling));
            if s.scaling {
                // List 0 explicit (deltas to 0 ends early), others absent.
                w.bit(1).se(5).se(-13);
                for _ in 1..if s.chroma == 3 { 12 } else { 8 } {
                    w.bit(0);
                }
            }
        }
        w.ue(0).ue(s.poc_type);
        match s.poc_type {
            0 => {
                w.ue(2);
            }
            1 => {
                w.bit(0).se(-1).se(2).ue(2).se(1).se(-1);
            }
            _ => {}
        }
        w.ue(4).bit(0).ue(s.w_mbs - 1).ue(s.h_units - 1);
        w.bit(u32::from(s.frame_mbs_only));
        if !s.frame_mbs_only {
            w.bit(1);
        }
        w.bit(1);
        let cropping = s.crop != [0; 4];
        w.bit(u32::from(cropping));
        if cropping {
            for c in s.crop {
                w.ue(c);
            }
        }
        match s.timing {
            Some((units, scale)) => {
                w.bit(1); // vui present
                w.bit(1).bits(8, 255).bits(16, 4).bits(16, 3); // SAR 4:3
                w.bit(0); // overscan
                w.bit(1).bits(3, 5).bit(0).bit(1).bits(24, 0x010101);
                w.bit(1).ue(0).ue(0); // chroma loc
                w.bit(1).bits(32, units).bits(32, scale).bit(1);
            }
            None => {
                w.bit(0);
            }
        }
        w.nal()
    }

    fn base() -> Sps {
        Sps {
            profile: 100,
            chroma: 1,
            frame_mbs_only: true,
            w_mbs: 40,
            h_units: 23,
            crop: [0, 0, 0, 4],
            poc_type: 0,
            scaling: false,
            timing: Some((1, 50)),
        }
    }

    #[test]
    fn high_profile_with_cropping() {
        let d = parse_sps(&build(&base())).unwrap();
        assert_eq!((d.width, d.height), (640, 360));
        assert_eq!(d.fps, Some(25.0));
        assert_eq!(d.bit_depth_luma, 10);
        assert_eq!(d.profile_label(), "High 3.1");
    }

    #[test]
    fn chroma_formats_change_crop_units() {
        // 4:2:2: vertical crop unit 1, horizontal 2.
        let s = Sps {
            profile: 122,
            chroma: 2,
            crop: [1, 1, 0, 8],
            ..base()
        };
        let d = parse_sps(&build(&s)).unwrap();
        assert_eq!((d.width, d.height), (636, 360));
        // 4:4:4: both units 1.
        let s = Sps {
            profile: 244,
            chroma: 3,
            crop: [1, 1, 0, 8],
            scaling: true,
            ..base()
        };
        let d = parse_sps(&build(&s)).unwrap();
        assert_eq!((d.width, d.height), (638, 360));
        assert_eq!(d.chroma_format_idc, 3);
        // Monochrome (chroma 0): units 1.
        let s = Sps {
            chroma: 0,
            crop: [0, 0, 0, 8],
            ..base()
        };
        assert_eq!(parse_sps(&build(&s)).unwrap().height, 360);
    }

    #[test]
    fn interlaced_and_poc_types() {
        // 1920x1080i: 68 map units of 32 lines minus 8 (crop 2 * 2 * 2).
        let s = Sps {
            profile: 77,
            frame_mbs_only: false,
            w_mbs: 120,
            h_units: 34,
            crop: [0, 0, 0, 2],
            poc_type: 1,
            timing: None,
            ..base()
        };
        let d = parse_sps(&build(&s)).unwrap();
        assert_eq!((d.width, d.height, d.fps), (1920, 1080, None));
        assert_eq!(avc_profile_name(d.profile_idc, 0), "Main");
        let s = Sps {
            profile: 66,
            poc_type: 2,
            ..base()
        };
        let d = parse_sps(&build(&s)).unwrap();
        assert_eq!((d.width, d.height), (640, 360));
        assert_eq!(avc_profile_name(66, 0x40), "Constrained Baseline");
    }

    #[test]
    fn emulation_prevention_is_removed() {
        assert_eq!(unescape_rbsp(&[0, 0, 3, 1, 0, 0, 3]), [0, 0, 1, 0, 0]);
        assert_eq!(unescape_rbsp(&[0, 3, 0, 0, 0, 3, 0]), [0, 3, 0, 0, 0, 0]);
    }

    #[test]
    fn truncated_and_wrong_inputs() {
        let sps = build(&base());
        // Cut anywhere: no panic; cut inside the VUI (the last 12 bytes
        // here): the size stays, the frame rate goes.
        for cut in 0..sps.len() {
            let got = parse_sps(&sps[..cut]);
            if cut >= sps.len() - 9 && cut < sps.len() - 1 {
                let d = got.expect("size survives a cut VUI");
                assert_eq!((d.width, d.height, d.fps), (640, 360, None), "cut {cut}");
            }
        }
        assert!(parse_sps(&[0x68, 1, 2, 3]).is_none());
        assert!(parse_sps(&[]).is_none());
        // 32 leading zeros is no valid ue(v).
        assert!(parse_sps(&[0x67, 100, 0, 31, 0, 0, 0, 0, 1]).is_none());
        // Cropping more than the picture.
        let s = Sps {
            crop: [0, 0, 0, 500],
            ..base()
        };
        assert!(parse_sps(&build(&s)).is_none());
    }

    /// A legacy AVC sequence header tag body carrying the base SPS.
    fn avc_body() -> Vec<u8> {
        let sps = build(&base());
        let mut body = vec![0x17, 0, 0, 0, 0, 1, 100, 0, 31, 0xFF, 0xE1];
        body.extend_from_slice(&(sps.len() as u16).to_be_bytes());
        body.extend_from_slice(&sps);
        body
    }

    #[test]
    fn sequence_header_bodies() {
        let mut body = avc_body();
        body.extend_from_slice(&[1, 0, 4, 0x68, 0xEE, 0x3C, 0x80]);
        assert_eq!(avc_details(&body).unwrap().width, 640);
        // E-RTMP SequenceStart avc1 (IsExHeader | keyframe, type 0).
        let mut ex = vec![0x90, b'a', b'v', b'c', b'1'];
        ex.extend_from_slice(&body[5..]);
        assert_eq!(avc_details(&ex).unwrap().height, 360);
        // A NALU packet, a HEVC header, or no SPS at all is not one.
        body[1] = 1;
        assert!(avc_details(&body).is_none());
        assert!(avc_details(&[0x1C, 0, 0, 0, 0, 1, 1, 0, 0, 0xFF, 0xE1]).is_none());
        assert!(avc_details(&[0x17, 0, 0, 0, 0, 1, 100, 0, 31, 0xFF, 0xE0]).is_none());
    }

    #[test]
    fn snapshots() {
        let v = video_snapshot(&avc_body(), Some(30.0)).unwrap();
        assert_eq!(v.codec, "H.264");
        assert_eq!(v.fourcc.as_deref(), Some("avc1"));
        assert_eq!(
            (v.width, v.height, v.fps),
            (Some(640), Some(360), Some(25.0))
        );
        assert_eq!(v.profile.as_deref(), Some("High 3.1"));
        // HEVC (E-RTMP hvc1): codec only, fps from the hint.
        let v = video_snapshot(&[0x90, b'h', b'v', b'c', b'1', 1], Some(30.0)).unwrap();
        assert_eq!(
            (v.codec.as_str(), v.width, v.fps),
            ("HEVC", None, Some(30.0))
        );
        assert_eq!(v.fourcc.as_deref(), Some("hvc1"));
        assert!(video_snapshot(&[], None).is_none());

        let a = audio_snapshot(&[0xAF, 0x00, 0x12, 0x10]).unwrap();
        assert_eq!(
            (a.codec.as_str(), a.sample_rate, a.channels),
            ("AAC", Some(44100), Some(2))
        );
        // MP3, 44 kHz, stereo: 0x2F.
        let a = audio_snapshot(&[0x2F, 0xFF]).unwrap();
        assert_eq!(
            (a.codec.as_str(), a.sample_rate, a.channels),
            ("MP3", Some(44100), Some(2))
        );
        // G.711 mu-law mono.
        let a = audio_snapshot(&[0x82, 0]).unwrap();
        assert_eq!((a.sample_rate, a.channels), (Some(8000), Some(1)));
        // AAC raw frame: codec only.
        let a = audio_snapshot(&[0xAF, 0x01, 0x21]).unwrap();
        assert_eq!((a.sample_rate, a.channels), (None, None));
        // E-RTMP Opus SequenceStart.
        let a = audio_snapshot(&[0x90, b'O', b'p', b'u', b's']).unwrap();
        assert_eq!(a.codec, "Opus");
        assert!(audio_snapshot(&[]).is_none());
    }

    #[test]
    fn aac() {
        // AAC LC, 44.1 kHz, stereo: 0x12 0x10.
        let d = aac_details(&[0xAF, 0x00, 0x12, 0x10]).unwrap();
        assert_eq!((d.sample_rate, d.channels), (44100, 2));
        assert_eq!(d.profile_name(), "LC");
        // 48 kHz mono: object 2, index 3, channels 1 → 0x11 0x88.
        let d = aac_details(&[0xAF, 0x00, 0x11, 0x88]).unwrap();
        assert_eq!((d.sample_rate, d.channels), (48000, 1));
        assert!(aac_details(&[0xAF, 0x01, 0x12, 0x10]).is_none());
    }
}
