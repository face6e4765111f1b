//! The two HTML pages: the status page (`/`) and the player page
//! (`/play/{app}/{name}`). Both are static text written here, with a little
//! JavaScript and no build step.
//!
//! # Contract
//!
//! * [`STATUS_PAGE`] is served as is. It reads `GET /api/v1/streams` every
//!   2 s and draws one row per stream (`<tr data-stream="app/name">`) with
//!   codec, resolution, bitrate in/out, viewers, uptime, recording state, an
//!   inline-SVG bitrate graph of the last 60 samples and a link to the
//!   player. Names reach the page only through `textContent`.
//! * [`player_page`] fills the player template: app and name are
//!   HTML-escaped into text and `data-` attributes, and the script turns
//!   them into `/{app}/{name}.flv` with `encodeURIComponent`, adding the
//!   page's own query (so `/play/live/cam?key=K` plays
//!   `/live/cam.flv?key=K`). The player script's URL is a parameter
//!   (`player_js_url`, default [`DEFAULT_PLAYER_JS_URL`]); a site without
//!   internet access points it at a copy under `/static/`. The `<video>` is
//!   muted and autoplays; a player error is shown and set as the body's
//!   `data-error` attribute (with the HTTP status when the stream request
//!   was refused: `HTTP 404` while the stream is not live).
//! * Neither page makes the browser ask for `/favicon.ico` (an empty
//!   `data:` icon), so a page's only requests are its own.

/// Default `player_js_url`: mpegts.js 1.8.2, pinned, from a public CDN.
pub const DEFAULT_PLAYER_JS_URL: &str =
    "https://cdn.jsdelivr.net/npm/mpegts.js@1.8.2/dist/mpegts.js";

/// The status page (`/`).
pub const STATUS_PAGE: &str = include_str!("pages/status.html");

const PLAYER_TEMPLATE: &str = include_str!("pages/player.html");

/// Escapes text for HTML element content and quoted attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The player page of `app/name`, loading the player script from
/// `player_js_url`.
pub fn player_page(app: &str, name: &str, player_js_url: &str) -> String {
    PLAYER_TEMPLATE
        .replace("{{PLAYER_JS_URL}}", &html_escape(player_js_url))
        .replace("{{APP}}", &html_escape(app))
        .replace("{{NAME}}", &html_escape(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            html_escape(r#"<script>"a"&'b'</script>"#),
            "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;&lt;/script&gt;"
        );
        assert_eq!(html_escape("cam-1 é"), "cam-1 é");
    }

    #[test]
    fn player_page_is_filled_and_escaped() {
        let page = player_page(
            "live",
            "<img src=x onerror=alert(1)>",
            DEFAULT_PLAYER_JS_URL,
        );
        assert!(!page.contains("{{"));
        assert!(!page.contains("<img"));
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(page.contains(&format!(
            "<script src=\"{DEFAULT_PLAYER_JS_URL}\"></script>"
        )));
        assert!(page.contains("data-app=\"live\""));
        assert!(page.contains("muted autoplay"));
        assert!(page.contains("<link rel=\"icon\" href=\"data:,\">"));
        assert!(page.contains("\"HttpStatusCodeInvalid\""));
        let page = player_page("a\"b", "c", "/static/mpegts.js?v=\"x");
        assert!(page.contains("data-app=\"a&quot;b\""));
        assert!(page.contains("src=\"/static/mpegts.js?v=&quot;x\""));
    }

    #[test]
    fn status_page_reads_the_api() {
        assert!(STATUS_PAGE.contains("fetch(\"/api/v1/streams\""));
        assert!(STATUS_PAGE.contains("setTimeout(refresh, 2000)"));
        assert!(STATUS_PAGE.contains("\"/play/\""));
        assert!(!STATUS_PAGE.contains("innerHTML"));
        assert!(STATUS_PAGE.contains("<link rel=\"icon\" href=\"data:,\">"));
    }
}
