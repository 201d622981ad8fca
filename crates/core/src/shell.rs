//! Shell words: the one quoting function every command line opendlc composes goes through.

/// `text` as one word for `/bin/sh`: single-quoted, with each `'` written as `'\''`.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_quotes_survive() {
        assert_eq!(quote("a'b"), "'a'\\''b'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("$HOME `x`"), "'$HOME `x`'");
    }

    #[test]
    fn quoting_survives_the_shell() {
        let command = r#"echo "it's $RANK"; exit 0"#;
        let out = std::process::Command::new("/bin/sh")
            .args(["-c", &format!("RANK=3 exec /bin/sh -c {}", quote(command))])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "it's 3\n");
    }
}
