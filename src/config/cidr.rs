//! Address rules: an address or a CIDR block, IPv4 or IPv6
//! (`192.0.2.7`, `10.0.0.0/8`, `::1`, `2001:db8::/32`).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An address block; a plain address is a block of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is in the block. An IPv4-mapped IPv6 address
    /// (`::ffff:a.b.c.d`) matches the IPv4 rules.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(u32::from(net).into(), u32::from(ip).into(), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(u128::from(net), u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// The top `prefix` of `bits` bits are equal.
fn prefix_eq(a: u128, b: u128, prefix: u8, bits: u8) -> bool {
    if prefix == 0 {
        return true;
    }
    let shift = u32::from(bits - prefix);
    (a ^ b) >> shift == 0
}

/// Whether `ip` passes an allow/deny pair: deny wins; a non-empty allow
/// list refuses every address not in it.
pub fn address_allowed(allow: &[Cidr], deny: &[Cidr], ip: IpAddr) -> bool {
    if deny.iter().any(|c| c.contains(ip)) {
        return false;
    }
    allow.is_empty() || allow.iter().any(|c| c.contains(ip))
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Cidr, String> {
        let bad = || format!("{s:?} is not an address or a CIDR block (e.g. 10.0.0.0/8, ::1)");
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= max)
                .ok_or_else(bad)?,
            None => max,
        };
        Ok(Cidr { addr, prefix })
    }
}

impl TryFrom<String> for Cidr {
    type Error = String;

    fn try_from(s: String) -> Result<Cidr, String> {
        s.parse()
    }
}

impl From<Cidr> for String {
    fn from(c: Cidr) -> String {
        c.to_string()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_contain_their_addresses_only() {
        assert!(c("10.0.0.0/8").contains(ip("10.255.1.2")));
        assert!(!c("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(c("127.0.0.2").contains(ip("127.0.0.2")));
        assert!(!c("127.0.0.2").contains(ip("127.0.0.1")));
        assert!(c("0.0.0.0/0").contains(ip("8.8.8.8")));
        assert!(!c("0.0.0.0/0").contains(ip("::1")));
        assert!(c("2001:db8::/32").contains(ip("2001:db8:ffff::1")));
        assert!(!c("2001:db8::/32").contains(ip("2001:db9::1")));
        assert!(c("::1").contains(ip("::1")));
        assert!(c("::/0").contains(ip("fe80::1")));
        assert!(c("192.0.2.0/24").contains(ip("::ffff:192.0.2.9")));
    }

    #[test]
    fn bad_blocks_are_refused_with_the_text() {
        for s in ["10.0.0.0/33", "::1/129", "nope", "10.0.0.0/x", "1.2.3"] {
            let e = s.parse::<Cidr>().unwrap_err();
            assert!(e.contains(&format!("{s:?}")), "{e}");
        }
        assert_eq!(c("10.1.2.3/8").to_string(), "10.1.2.3/8");
    }

    #[test]
    fn deny_wins_and_allow_lists_are_exclusive() {
        let lo = [c("127.0.0.0/8")];
        let two = [c("127.0.0.2")];
        assert!(address_allowed(&[], &[], ip("203.0.113.1")));
        assert!(address_allowed(&lo, &[], ip("127.0.0.1")));
        assert!(!address_allowed(&lo, &[], ip("203.0.113.1")));
        assert!(!address_allowed(&lo, &two, ip("127.0.0.2")));
        assert!(address_allowed(&lo, &two, ip("127.0.0.1")));
        assert!(!address_allowed(&[], &two, ip("127.0.0.2")));
    }
}
