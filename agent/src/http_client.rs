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
    use std::process::Command;
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn a_client_is_built_without_a_provider_of_reqwests_own() {
        assert!(super::builder().build().is_ok());
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }

    /// A whole HTTPS request, handshake included, against the listener's own TLS setup.
    #[tokio::test]
    async fn the_client_speaks_https() {
        let dir = tempfile::tempdir().unwrap();
        let made = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
            .args(["-addext", "subjectAltName=IP:127.0.0.1"])
            .args(["-keyout", "key.pem", "-out", "cert.pem"])
            .current_dir(dir.path())
            .output()
            .expect("the openssl CLI (.ci/run installs it)");
        assert!(made.status.success(), "{made:?}");
        let config =
            crate::remote::server_config(&dir.path().join("cert.pem"), &dir.path().join("key.pem"))
                .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = acceptor.accept(tcp).await.unwrap();
            let mut request = [0u8; 1024];
            let _ = tls.read(&mut request).await.unwrap();
            tls.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
            )
            .await
            .unwrap();
            tls.shutdown().await.unwrap();
        });
        // The certificate is self-signed: what is tested is the handshake and the ciphers.
        let client = super::builder()
            .tls_danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        let answer = client
            .get(format!("https://127.0.0.1:{port}/"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.text().await.unwrap(), "hello");
        server.await.unwrap();
    }
}
