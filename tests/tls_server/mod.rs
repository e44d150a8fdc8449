//! Loopback servers for the `thumbprint` tests: a real TLS server (tokio-rustls, ring) on
//! 127.0.0.1:0 serving a chain the test builds with rcgen, and a plain-TCP server that answers
//! in cleartext. Each runs on its own thread with its own runtime and stops on Drop. The TLS
//! server records the SNI of every ClientHello, so tests can assert what the client sent.
//! Nothing here decides what a test expects; it only serves.

use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::oneshot;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA (root or intermediate) that can sign certificates.
pub struct Ca {
    pub der: CertificateDer<'static>,
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

impl Ca {
    /// A self-signed root named `name` (its CN).
    pub fn root(name: &str) -> Ca {
        let key = KeyPair::generate().expect("root key");
        let params = ca_params(name);
        let cert = params.self_signed(&key).expect("root certificate");
        Ca {
            der: cert.der().clone(),
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// An intermediate named `name`, signed by `self`.
    pub fn intermediate(&self, name: &str) -> Ca {
        let key = KeyPair::generate().expect("intermediate key");
        let mut params = ca_params(name);
        params.use_authority_key_identifier_extension = true;
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("intermediate certificate");
        Ca {
            der: cert.der().clone(),
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for `localhost` and 127.0.0.1, valid from 2020 to 2100.
    pub fn leaf(&self) -> Leaf {
        self.leaf_with(&["localhost"], (2100, 1, 1))
    }

    /// A server certificate for `dns_names` and 127.0.0.1, valid from 2020-01-01 until the
    /// start of `not_after` (year, month, day; UTC).
    pub fn leaf_with(&self, dns_names: &[&str], not_after: (i32, u8, u8)) -> Leaf {
        let key = KeyPair::generate().expect("leaf key");
        let names: Vec<String> = dns_names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("leaf params");
        params
            .subject_alt_names
            .push(SanType::IpAddress(Ipv4Addr::LOCALHOST.into()));
        params
            .distinguished_name
            .push(DnType::CommonName, "kop test leaf");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        Leaf {
            der: cert.der().clone(),
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }
}

/// A server certificate and its private key.
pub struct Leaf {
    pub der: CertificateDer<'static>,
    pub key: PrivateKeyDer<'static>,
}

/// What a server does with each connection.
enum Behaviour {
    Tls(Arc<rustls::ServerConfig>),
    /// Writes these bytes in cleartext and closes.
    Plain(&'static [u8]),
}

/// A server on 127.0.0.1 (port chosen by the OS), stopped on Drop.
pub struct Server {
    addr: SocketAddr,
    sni: Arc<Mutex<Vec<Option<String>>>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `leaf` followed by `chain` (in that order, as TLS sends it) over TLS 1.2/1.3.
    pub fn tls(leaf: &Leaf, chain: &[&CertificateDer<'static>]) -> Server {
        let mut served = vec![leaf.der.clone()];
        served.extend(chain.iter().map(|c| (*c).clone()));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(served, leaf.key.clone_key())
        .expect("server certificate and key");
        Server::start(Behaviour::Tls(Arc::new(config)))
    }

    /// Answers every connection with an HTTP/1.1 response in cleartext.
    pub fn plain_http() -> Server {
        Server::start(Behaviour::Plain(
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ))
    }

    fn start(behaviour: Behaviour) -> Server {
        let listener = StdListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let sni = Arc::new(Mutex::new(Vec::new()));
        let (stop, mut stopped) = oneshot::channel::<()>();
        let behaviour = Arc::new(behaviour);
        let seen = sni.clone();
        let thread = std::thread::Builder::new()
            .name(format!("tls-server-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("server runtime");
                runtime.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    loop {
                        tokio::select! {
                            _ = &mut stopped => break,
                            accepted = listener.accept() => {
                                let Ok((tcp, _)) = accepted else { continue };
                                tokio::spawn(serve(tcp, behaviour.clone(), seen.clone()));
                            }
                        }
                    }
                });
                // Dropping the runtime cancels the connection tasks still running.
            })
            .expect("server thread");
        Server {
            addr,
            sni,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The SNI of every ClientHello received so far, in order (`None`: no SNI sent).
    pub fn sni(&self) -> Vec<Option<String>> {
        self.sni.lock().expect("SNI log").clone()
    }
}

async fn serve(
    mut tcp: tokio::net::TcpStream,
    behaviour: Arc<Behaviour>,
    sni: Arc<Mutex<Vec<Option<String>>>>,
) {
    let config = match &*behaviour {
        Behaviour::Plain(reply) => {
            let _ = tcp.write_all(reply).await;
            let _ = tcp.shutdown().await;
            return;
        }
        Behaviour::Tls(config) => config.clone(),
    };
    let acceptor = tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp);
    let Ok(start) = acceptor.await else { return };
    sni.lock()
        .expect("SNI log")
        .push(start.client_hello().server_name().map(str::to_owned));
    // A client that rejects the chain aborts here; that is the point of several tests.
    let Ok(mut tls) = start.into_stream(config).await else {
        return;
    };
    // Hold the connection until the client closes it.
    let mut buf = [0u8; 1024];
    while matches!(tls.read(&mut buf).await, Ok(n) if n > 0) {}
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
