//! CIDR blocks for source-address rules, IPv4 and IPv6.
//!
//! A block whose address has bits set past its prefix (`10.1.2.3/8`) is refused rather than silently
//! masked: it is almost always a typo, and guessing would widen or narrow an access rule. IPv4-mapped
//! addresses (`::ffff:203.0.113.10`) are IPv4, both as blocks and as callers: otherwise a mapped block in a
//! deny list would never match anyone.

use std::net::IpAddr;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(u32::from(net).into(), u32::from(ip).into(), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => prefix_eq(u128::from(net), u128::from(ip), self.prefix, 128),
            _ => false,
        }
    }
}

/// Whether the top `prefix` bits of two `width`-bit numbers agree.
fn prefix_eq(a: u128, b: u128, prefix: u8, width: u32) -> bool {
    let shift = width - u32::from(prefix);
    prefix == 0 || (a >> shift) == (b >> shift)
}

impl FromStr for Cidr {
    type Err = String;

    /// `203.0.113.0/24`, `2001:db8::/32`, or a bare address (a single host).
    fn from_str(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr =
            address.trim().parse().map_err(|_| format!("{text:?} is not an IP address or CIDR block"))?;
        let width: u8 = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(|| format!("{text:?}: bad prefix length"))?,
        };
        let host_bits_clear = match network {
            IpAddr::V4(v4) => prefix == 32 || u32::from(v4) << prefix == 0,
            IpAddr::V6(v6) => prefix == 128 || u128::from(v6) << prefix == 0,
        };
        if !host_bits_clear {
            return Err(format!("{text:?} has bits set past its /{prefix} prefix"));
        }
        match network.to_canonical() {
            IpAddr::V4(v4) if network.is_ipv6() => match prefix.checked_sub(96) {
                Some(prefix) => Ok(Cidr { network: IpAddr::V4(v4), prefix }),
                None => Err(format!("{text:?} reaches beyond the IPv4-mapped range: give the IPv4 block")),
            },
            _ => Ok(Cidr { network, prefix }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Cidr {
        text.parse().unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ipv4_blocks_and_edges() {
        let block = cidr("203.0.113.0/24");
        assert!(block.contains(ip("203.0.113.0")) && block.contains(ip("203.0.113.255")));
        assert!(!block.contains(ip("203.0.114.0")) && !block.contains(ip("203.0.112.255")));
        assert!(cidr("0.0.0.0/0").contains(ip("255.255.255.255")));
        assert!(cidr("198.51.100.7/32").contains(ip("198.51.100.7")));
        assert!(!cidr("198.51.100.7/32").contains(ip("198.51.100.6")));
        assert!(cidr("198.51.100.7").contains(ip("198.51.100.7")), "a bare address is one host");
        assert!(cidr("128.0.0.0/1").contains(ip("200.1.1.1")) && !cidr("128.0.0.0/1").contains(ip("127.255.255.255")));
        assert!(cidr("10.0.0.0/31").contains(ip("10.0.0.1")) && !cidr("10.0.0.0/31").contains(ip("10.0.0.2")));
    }

    #[test]
    fn ipv6_blocks_mapped_addresses_and_families() {
        let block = cidr("2001:db8::/32");
        assert!(block.contains(ip("2001:db8:ffff::1")));
        assert!(!block.contains(ip("2001:db9::1")));
        assert!(cidr("::/0").contains(ip("ffff::1")));
        assert!(
            cidr("2001:db8::1/128").contains(ip("2001:db8::1")) && !cidr("2001:db8::1/128").contains(ip("2001:db8::2"))
        );
        assert!(cidr("203.0.113.0/24").contains(ip("::ffff:203.0.113.9")), "IPv4-mapped matches as IPv4");
        assert!(!cidr("0.0.0.0/0").contains(ip("2001:db8::1")), "families never match each other");
        assert!(!cidr("::/0").contains(ip("203.0.113.9")));
    }

    /// Found by the route_and_arn fuzz target: a mapped block was kept as IPv6 while callers were matched as
    /// IPv4, so it matched no one (a deny list failed open).
    #[test]
    fn ipv4_mapped_blocks_are_ipv4_blocks() {
        let block = cidr("::ffff:10.66.0.0/112");
        assert_eq!(block, cidr("10.66.0.0/16"));
        for caller in ["10.66.1.2", "::ffff:10.66.1.2"] {
            assert!(block.contains(ip(caller)), "{caller}");
        }
        assert!(!block.contains(ip("10.1.1.1")));
        assert!(cidr("::ffff:0.1.2.3").contains(ip("0.1.2.3")), "a mapped address is one IPv4 host");
        assert!("::ffff:0.0.0.0/95".parse::<Cidr>().is_err(), "wider than the mapped range");
    }

    #[test]
    fn refuses_malformed_blocks() {
        for bad in [
            "10.1.2.3/8",
            "10.0.0.0/33",
            "2001:db8::1/32",
            "::/129",
            "10.0.0.0/",
            "10.0.0/8",
            "x/8",
            "",
            "10.0.0.0/-1",
            "10.0.0.0/8/8",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad:?}");
        }
    }
}
