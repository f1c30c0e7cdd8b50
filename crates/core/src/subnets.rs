//! The address pool app networks are carved from (SLIPWAY_APP_SUBNETS).
//!
//! Every app gets a bridge network of its own. Docker's default address pools hold about
//! thirty networks, so a host with more apps than that would stop releasing; Slipway
//! hands out subnets from a pool of its own instead, one per app network.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use ipnet::Ipv4Net;

/// `10.213.0.0/16` split into `/24`s: 256 app networks of 253 addresses each.
pub const DEFAULT_POOL: &str = "10.213.0.0/16";
pub const DEFAULT_SIZE: u8 = 24;

/// Where app networks get their addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppSubnets {
    /// Subnets of `size` bits out of `pool`.
    Pool { pool: Ipv4Net, size: u8 },
    /// Docker's own address pools (`default-address-pools` in daemon.json).
    Docker,
}

/// A subnet handed to one app network, with the gateway Docker puts on the host side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    pub net: Ipv4Net,
}

impl Subnet {
    pub fn gateway(&self) -> Ipv4Addr {
        // The first host address, as Docker picks by default.
        Ipv4Addr::from(u32::from(self.net.network()).saturating_add(1))
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.net.fmt(f)
    }
}

impl AppSubnets {
    /// Parses SLIPWAY_APP_SUBNETS (`docker` or a CIDR) with SLIPWAY_APP_SUBNET_SIZE.
    pub fn parse(pool: Option<&str>, size: Option<&str>) -> Result<Self, String> {
        let pool = pool.map(str::trim).unwrap_or(DEFAULT_POOL);
        if pool.eq_ignore_ascii_case("docker") {
            return Ok(Self::Docker);
        }
        let pool = Ipv4Net::from_str(pool)
            .map_err(|_| "expected an IPv4 CIDR like 10.213.0.0/16, or docker".to_owned())?
            .trunc();
        let size = match size.map(str::trim) {
            None => DEFAULT_SIZE.max(pool.prefix_len()),
            Some(raw) => raw
                .strip_prefix('/')
                .unwrap_or(raw)
                .parse::<u8>()
                .map_err(|_| "expected a prefix length like 24".to_owned())?,
        };
        if size < pool.prefix_len() || size > 29 {
            return Err(format!(
                "the subnet size /{size} must lie between the pool's /{} and /29",
                pool.prefix_len()
            ));
        }
        Ok(Self::Pool { pool, size })
    }

    /// The pool's subnets that overlap none of `taken`, in address order.
    pub fn free(&self, taken: &[Ipv4Net]) -> Vec<Subnet> {
        let Self::Pool { pool, size } = self else {
            return Vec::new();
        };
        let Ok(subnets) = pool.subnets(*size) else {
            return Vec::new();
        };
        subnets
            .filter(|net| !taken.iter().any(|t| overlaps(net, t)))
            .map(|net| Subnet { net })
            .collect()
    }

    /// Whether `addr` lies in the pool: an app container's address (with the Docker
    /// variant nothing is known, so nothing is).
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        match self {
            Self::Pool { pool, .. } => pool.contains(&addr),
            Self::Docker => false,
        }
    }
}

impl fmt::Display for AppSubnets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pool { pool, size } => write!(f, "{pool} in /{size}s"),
            Self::Docker => f.write_str("Docker's address pools"),
        }
    }
}

fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn the_default_pool_holds_256_app_networks() {
        let subnets = AppSubnets::parse(None, None).unwrap_or_else(|e| panic!("{e}"));
        let free = subnets.free(&[]);
        assert_eq!(free.len(), 256);
        assert_eq!(free[0].to_string(), "10.213.0.0/24");
        assert_eq!(free[0].gateway(), Ipv4Addr::new(10, 213, 0, 1));
        assert_eq!(free[255].to_string(), "10.213.255.0/24");
    }

    #[test]
    fn taken_subnets_of_any_size_are_skipped() {
        let subnets =
            AppSubnets::parse(Some("10.1.0.0/22"), Some("24")).unwrap_or_else(|e| panic!("{e}"));
        let taken = [
            net("10.1.1.0/24"),
            net("10.1.2.128/25"),
            net("172.17.0.0/16"),
        ];
        let free: Vec<String> = subnets
            .free(&taken)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(free, ["10.1.0.0/24", "10.1.3.0/24"]);
        // A larger network covering the whole pool leaves nothing.
        assert!(subnets.free(&[net("10.0.0.0/8")]).is_empty());
    }

    #[test]
    fn bad_settings_are_refused_with_the_reason() {
        for (pool, size) in [
            (Some("10.1.0.0"), None),
            (Some("fd00::/8"), None),
            (Some("10.1.0.0/24"), Some("16")),
            (Some("10.1.0.0/16"), Some("30")),
            (Some("10.1.0.0/16"), Some("x")),
        ] {
            assert!(AppSubnets::parse(pool, size).is_err(), "{pool:?} {size:?}");
        }
        assert_eq!(
            AppSubnets::parse(Some("Docker"), None),
            Ok(AppSubnets::Docker)
        );
        // Host bits are dropped rather than refused, as `ip route` does.
        assert_eq!(
            AppSubnets::parse(Some("10.9.9.9/16"), Some("/20")),
            Ok(AppSubnets::Pool {
                pool: net("10.9.0.0/16"),
                size: 20
            })
        );
    }

    #[test]
    fn membership_is_the_pools() {
        let subnets = AppSubnets::parse(None, None).unwrap_or_else(|e| panic!("{e}"));
        assert!(subnets.contains(Ipv4Addr::new(10, 213, 7, 9)));
        assert!(!subnets.contains(Ipv4Addr::new(172, 17, 0, 2)));
        assert!(!AppSubnets::Docker.contains(Ipv4Addr::new(10, 213, 7, 9)));
    }
}
