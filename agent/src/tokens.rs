//! API tokens: made from the OS's random source, kept only as SHA-256 hashes (in memory and in
//! the store), checked in constant time; who a presented token is, or nothing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use botctl_proto::{CreatedToken, NewToken, RpcError, TokenInfo, now_ms};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::{Store, TokenRow};

/// What every token starts with, so a leaked one is recognised by secret scanners and people.
pub const PREFIX: &str = "botctl_";
/// Random bytes of the secret part: 256 bits, well past guessing.
const SECRET_BYTES: usize = 32;
/// Random bytes of the public id.
const ID_BYTES: usize = 5;
/// Last uses are written at most this often (a request never waits on the disk for it).
const USED_WRITE_EVERY: Duration = Duration::from_secs(60);

/// Who a valid token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: String,
    pub user: String,
    pub admin: bool,
    pub read_only: bool,
}

/// The agent's tokens.
pub struct Tokens {
    store: Store,
    rows: Mutex<HashMap<String, TokenRow>>,
    /// Last uses not written yet, and when they were last written.
    unsaved: Mutex<(HashMap<String, i64>, Instant)>,
}

impl Tokens {
    pub fn new(store: Store, rows: Vec<TokenRow>) -> Tokens {
        Tokens {
            store,
            rows: Mutex::new(rows.into_iter().map(|r| (r.id.clone(), r)).collect()),
            unsaved: Mutex::new((HashMap::new(), Instant::now())),
        }
    }

    pub fn create(&self, req: NewToken) -> Result<CreatedToken, RpcError> {
        if !botctl_proto::config::valid_owner_name(&req.user) {
            return Err(RpcError::invalid(format!(
                "{:?} is not a valid user name (letters, digits, - and _)",
                req.user
            )));
        }
        let mut rows = self.rows.lock().unwrap();
        let id = loop {
            let id = hex(&random::<ID_BYTES>()?);
            if !rows.contains_key(&id) {
                break id;
            }
        };
        let token = format!("{PREFIX}{id}_{}", hex(&random::<SECRET_BYTES>()?));
        let now = now_ms();
        let row = TokenRow {
            id: id.clone(),
            user: req.user,
            admin: req.admin,
            read_only: req.read_only,
            hash: digest(&token),
            created_ms: now,
            expires_ms: req
                .expires_in_ms
                .map(|ms| now.saturating_add(i64::try_from(ms).unwrap_or(i64::MAX))),
            last_used_ms: None,
        };
        rows.insert(id, row.clone());
        drop(rows);
        let info = info(&row);
        self.store.save_token(row);
        Ok(CreatedToken { info, token })
    }

    pub fn list(&self) -> Vec<TokenInfo> {
        let mut out: Vec<TokenInfo> = self.rows.lock().unwrap().values().map(info).collect();
        out.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        out
    }

    pub fn revoke(&self, id: &str) -> Result<TokenInfo, RpcError> {
        let row = self.rows.lock().unwrap().remove(id);
        let row = row.ok_or_else(|| {
            RpcError::not_found(format!(
                "no token with id {id}: `botctl tokens list` shows them"
            ))
        })?;
        self.unsaved.lock().unwrap().0.remove(id);
        self.store.revoke_token(id);
        Ok(info(&row))
    }

    /// Who `presented` speaks for, if it is a token of ours that has not expired. Expired,
    /// revoked, malformed and wrong tokens are all just `None`.
    pub fn verify(&self, presented: &str) -> Option<Grant> {
        let id = presented.strip_prefix(PREFIX)?.split('_').next()?;
        let hash = digest(presented);
        let now = now_ms();
        let grant = {
            let mut rows = self.rows.lock().unwrap();
            let row = rows.get_mut(id)?;
            let same: bool = row.hash.ct_eq(&hash).into();
            if !same || row.expires_ms.is_some_and(|t| t <= now) {
                return None;
            }
            row.last_used_ms = Some(now);
            grant(row)
        };
        self.used(&grant.id, now);
        Some(grant)
    }

    /// The grant of a token that is still valid, by id (a dashboard session re-checks its
    /// token on every request, so revoking a token ends its sessions too).
    pub fn still_valid(&self, id: &str) -> Option<Grant> {
        let rows = self.rows.lock().unwrap();
        let row = rows.get(id)?;
        row.expires_ms
            .is_none_or(|t| t > now_ms())
            .then(|| grant(row))
    }

    fn used(&self, id: &str, now: i64) {
        let mut unsaved = self.unsaved.lock().unwrap();
        unsaved.0.insert(id.to_string(), now);
        if unsaved.1.elapsed() >= USED_WRITE_EVERY {
            unsaved.1 = Instant::now();
            self.store.tokens_used(unsaved.0.drain().collect());
        }
    }

    /// Writes the last uses not written yet (at shutdown).
    pub fn flush_uses(&self) {
        let mut unsaved = self.unsaved.lock().unwrap();
        self.store.tokens_used(unsaved.0.drain().collect());
    }
}

fn grant(row: &TokenRow) -> Grant {
    Grant {
        id: row.id.clone(),
        user: row.user.clone(),
        admin: row.admin,
        read_only: row.read_only,
    }
}

fn info(row: &TokenRow) -> TokenInfo {
    TokenInfo {
        id: row.id.clone(),
        user: row.user.clone(),
        admin: row.admin,
        read_only: row.read_only,
        created_ms: row.created_ms,
        expires_ms: row.expires_ms,
        last_used_ms: row.last_used_ms,
    }
}

pub fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// `N` bytes from the OS's random source.
pub fn random<const N: usize>() -> Result<[u8; N], RpcError> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| RpcError::internal(format!("the OS random source failed: {e}")))?;
    Ok(bytes)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(&dir.path().join("t.db"));
        Tokens::new(store, Vec::new())
    }

    fn new(user: &str, expires_in_ms: Option<u64>) -> NewToken {
        NewToken {
            user: user.into(),
            admin: false,
            read_only: false,
            expires_in_ms,
        }
    }

    #[test]
    fn a_token_is_recognised_and_only_its_hash_is_kept() {
        let t = tokens();
        let made = t.create(new("alice", None)).unwrap();
        assert!(made.token.starts_with(PREFIX));
        // The prefix, the id, a separator and 64 hex digits of secret.
        assert_eq!(made.token.len(), PREFIX.len() + 10 + 1 + 64);
        let grant = t.verify(&made.token).unwrap();
        assert_eq!((grant.user.as_str(), grant.admin), ("alice", false));
        let rows = t.rows.lock().unwrap();
        let row = &rows[&made.info.id];
        assert_eq!(row.hash, digest(&made.token));
        assert!(row.last_used_ms.is_some());
        assert!(!format!("{row:?}{made:?}").contains(&made.token[20..]));
    }

    #[test]
    fn wrong_expired_and_revoked_tokens_are_all_refused() {
        let t = tokens();
        let made = t.create(new("alice", None)).unwrap();
        let mut wrong = made.token.clone();
        wrong.pop();
        wrong.push(if made.token.ends_with('0') { '1' } else { '0' });
        assert_eq!(t.verify(&wrong), None);
        assert_eq!(t.verify("botctl_"), None);
        assert_eq!(t.verify(""), None);
        let expired = t.create(new("bob", Some(0))).unwrap();
        assert_eq!(t.verify(&expired.token), None);
        assert_eq!(t.still_valid(&expired.info.id), None);
        t.revoke(&made.info.id).unwrap();
        assert_eq!(t.verify(&made.token), None);
        assert!(t.revoke(&made.info.id).is_err());
        assert!(t.create(new("no body", None)).is_err());
    }
}
