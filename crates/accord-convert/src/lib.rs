//! Indicator translation between STIX 2.1 and the formats defenders run: STIX indicators to
//! plain blocklists, CSV, Suricata rules, Zeek Intel files and MISP events; MISP events and IOC
//! lists to STIX indicators. Every indicator or line that a format cannot carry is reported with
//! the reason, never dropped silently. Pure: no I/O.

pub mod export;
pub mod import;
pub mod ioc;

pub use export::{Converted, Format, export};
pub use import::{Defaults, Imported, from_list, from_misp};
pub use ioc::{Ioc, Kind};

/// Something that could not be converted: which indicator, attribute or line, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub item: String,
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.item, self.reason)
    }
}
