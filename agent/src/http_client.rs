//! Outbound HTTP(S) clients (notifications, auth probes, updates): the one place that builds
//! them, so rustls always runs on the ring provider the listener already uses.

/// A client builder whose TLS runs on ring. reqwest is built without a provider of its own
/// (its default, aws-lc, was minutes of C build in every install) and panics on the first
/// client if none is installed, so every client starts here.
pub fn builder() -> reqwest::ClientBuilder {
    static RING: std::sync::Once = std::sync::Once::new();
    RING.call_once(|| {
        // Fails only when a provider is installed already, which is all this needs.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_client_is_built_without_a_provider_of_reqwests_own() {
        assert!(super::builder().build().is_ok());
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
