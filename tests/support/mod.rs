//! Shared integration-test harness for kube-oidc-publisher. It owns the test stand-ins and
//! helpers that test files pull in with `mod support;`: a `bootstrap` test's world
//! ([`bootstrap`]), a fake kube-apiserver serving the
//! recorded OIDC fixtures over HTTPS ([`apiserver`]), kubeconfig writers ([`kubeconfig`]), a
//! shared moto S3 emulator with request counting and fault injection ([`moto`]), a runner for
//! the real binary in a scrubbed environment plus file-system assertions ([`command`]), a
//! handle on a running `run` daemon ([`daemon`]), a stand-in for CloudFront's data plane over
//! moto's distributions ([`edge`]), ACM certificates and Route 53 zones as a test's account
//! sees them ([`hosting`]), and access to the fixture files
//! ([`fixtures`]). Each test binary uses a subset, hence the
//! `dead_code` and `unused_imports` allowances.
#![allow(dead_code, unused_imports)]

pub mod apiserver;
pub mod bootstrap;
pub mod command;
pub mod consistency;
pub mod daemon;
pub mod edge;
pub mod fixtures;
pub mod hosting;
pub mod kubeconfig;
pub mod moto;
pub mod proxy;

pub use apiserver::{
    https_request, https_request_with, kubernetes_slice, synthetic_endpoint_slices, FakeApiServer,
    FakeSecret, HttpResponse, RecordedRequest, Route, Scenario, TestPki, DISCOVERY_PATH,
    ENDPOINT_SLICES_PATH, JWKS_PATH,
};
pub use command::{
    file_mtime, mtimes, set_file_mtime, setup, snapshot_dir, stderr_str, stdout_str, sync_dir_args,
    sync_s3_args, TestCommand,
};
pub use fixtures::{fixture, fixture_path, fixture_str, fixtures_dir, jwks_only_new_key, ISSUER};
pub use kubeconfig::{
    unreachable_url, untrusted_ca_pem, write_kubeconfig, write_kubeconfig_spec,
    write_kubeconfig_unreachable, write_kubeconfig_with_token, KubeconfigSpec,
};
pub use moto::{
    cloudfront_domain, moto, Fault, HostingFault, HostingRequest, HostingRequests, Moto, Object,
    S3Request, S3Requests,
};
