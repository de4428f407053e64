//! GitHub webhook specifics: `X-Hub-Signature-256` verification and push payload parsing.
//! Kept free of HTTP plumbing so the security-relevant parts are testable on their own.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use super::Secret;

/// Why a signature was not accepted; the text goes into `Report::Refused`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignatureError {
    Missing,
    Malformed,
    Mismatch,
}

impl SignatureError {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SignatureError::Missing => "missing X-Hub-Signature-256",
            SignatureError::Malformed => "malformed X-Hub-Signature-256",
            SignatureError::Mismatch => "bad signature",
        }
    }
}

/// Checks `header` ("sha256=<64 hex>") against HMAC-SHA256(secret, body).
pub(crate) fn verify_signature(
    secret: &Secret,
    header: Option<&[u8]>,
    body: &[u8],
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex = header
        .strip_prefix(b"sha256=")
        .ok_or(SignatureError::Malformed)?;
    let expected = decode_hex(hex).ok_or(SignatureError::Malformed)?;
    if expected.len() != 32 {
        return Err(SignatureError::Malformed);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .map_err(|_| SignatureError::Mismatch)?;
    mac.update(body);
    // verify_slice compares in constant time, so timing reveals nothing about the expected MAC.
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

fn decode_hex(hex: &[u8]) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    hex.chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

/// The parts of a push event the agent acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Push {
    /// A commit landed on `branch` of `repo` ("owner/name").
    Branch { repo: String, branch: String },
    /// Tag pushes and branch deletions: nothing to pull.
    Ignored { why: String },
}

#[derive(Deserialize)]
struct PushPayload {
    #[serde(rename = "ref")]
    git_ref: String,
    repository: Repository,
    #[serde(default)]
    deleted: bool,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
}

pub(crate) fn parse_push(body: &[u8]) -> Result<Push, String> {
    let payload: PushPayload =
        serde_json::from_slice(body).map_err(|e| format!("bad push payload: {e}"))?;
    let repo = payload.repository.full_name;
    if repo.split('/').count() != 2 || repo.split('/').any(str::is_empty) {
        return Err(format!("bad repository.full_name {repo:?}"));
    }
    let Some(branch) = payload.git_ref.strip_prefix("refs/heads/") else {
        return Ok(Push::Ignored {
            why: format!("{} is not a branch", payload.git_ref),
        });
    };
    if branch.is_empty() {
        return Err("empty branch name".to_string());
    }
    if payload.deleted {
        return Ok(Push::Ignored {
            why: format!("branch {branch} of {repo} was deleted"),
        });
    }
    Ok(Push::Branch {
        branch: branch.to_string(),
        repo,
    })
}
