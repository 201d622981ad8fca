//! The checked-in generated code is what the generator makes from the spec.

use std::path::Path;
use std::process::Command;

#[test]
fn generated_code_is_up_to_date() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("codegen/generate.py");
    let run = Command::new("python3").arg(&script).arg("--check").output();
    let output = match run {
        Ok(output) => output,
        Err(err) => {
            // Without Python the check cannot run; the generated code still compiles and is
            // tested by everything else.
            eprintln!("skipped: cannot run python3 ({err})");
            return;
        }
    };
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
