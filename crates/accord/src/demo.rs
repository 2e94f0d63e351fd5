//! Demo data shipped inside the binary: the OASIS STIX 2.1 example bundles and MITRE ATT&CK for
//! ICS 18.1 (licences in `crates/accord/demo/`), and the Accord handling extension-definition, so
//! that `accord up` works on any machine.

/// (file name, contents) of every demo document.
pub const DOCUMENTS: &[(&str, &[u8])] = &[
    (
        "examples/indicator-for-c2-ip-address.json",
        include_bytes!("../demo/examples/indicator-for-c2-ip-address.json"),
    ),
    (
        "examples/indicator-to-campaign-relationship.json",
        include_bytes!("../demo/examples/indicator-to-campaign-relationship.json"),
    ),
    (
        "examples/indicators-for-C2-with-COA.json",
        include_bytes!("../demo/examples/indicators-for-C2-with-COA.json"),
    ),
    (
        "examples/infrastructure.json",
        include_bytes!("../demo/examples/infrastructure.json"),
    ),
    (
        "examples/interop-objectmarking-test.json",
        include_bytes!("../demo/examples/interop-objectmarking-test.json"),
    ),
    (
        "examples/malicious-email-indicator-with-attachment.json",
        include_bytes!("../demo/examples/malicious-email-indicator-with-attachment.json"),
    ),
    (
        "examples/threat-reports_apt1.json",
        include_bytes!("../demo/examples/threat-reports_apt1.json"),
    ),
    (
        "examples/threat-reports_poisonivy.json",
        include_bytes!("../demo/examples/threat-reports_poisonivy.json"),
    ),
    (
        "accord/accord-handling.json",
        include_bytes!("../../accord-policy/extension/accord-handling.json"),
    ),
    (
        "attack/ics-attack-18.1.json",
        include_bytes!("../demo/attack/ics-attack-18.1.json"),
    ),
];

/// Writes the demo documents under `dir` (so the ordinary import path reads them) and returns their paths.
pub fn write_to(dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    for (name, bytes) in DOCUMENTS {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, bytes)?;
        out.push(path);
    }
    Ok(out)
}
