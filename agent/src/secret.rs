//! The one type that holds a credential in the agent: cookie values, bot tokens, webhook
//! secrets, probe headers. `Debug` and `Display` are redacted and there is no `Serialize`.

use std::fmt;

/// A credential. The only way to its text is `expose()`, which makes every place a secret
/// leaves the process easy to find.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Replaces every occurrence of the secret in `text`: a last line of defence for error
    /// texts that come from elsewhere (server descriptions, I/O errors).
    pub fn scrub(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_string()
        } else {
            text.replace(&self.0, "***")
        }
    }

    /// Reads a secret from a file (a token file, a webhook secret file), trimmed. The error
    /// names the file, never its content.
    pub fn from_file(path: &std::path::Path) -> Result<Secret, String> {
        let text =
            botctl_proto::fsread::read_regular_string(path, botctl_proto::fsread::SECRET_FILE_CAP)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let value = text.trim();
        if value.is_empty() {
            return Err(format!("{} is empty", path.display()));
        }
        Ok(Secret(value.to_string()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shows_itself() {
        let s = Secret::new("SECRETx");
        assert_eq!(format!("{s:?} {s}"), "<redacted> ***");
        assert_eq!(s.scrub("a SECRETx b"), "a *** b");
        assert_eq!(s.expose(), "SECRETx");
    }

    #[test]
    fn a_secret_file_must_be_a_small_regular_file() {
        let e = Secret::from_file(std::path::Path::new("/dev/zero")).unwrap_err();
        assert_eq!(
            e,
            "cannot read /dev/zero: is a character device, not a regular file"
        );
        let big = tempfile::NamedTempFile::new().unwrap();
        big.as_file().set_len(1 << 20).unwrap();
        let e = Secret::from_file(big.path()).unwrap_err();
        assert!(e.ends_with(": is 1 MiB; at most 64 KiB is read"), "{e}");
    }
}
