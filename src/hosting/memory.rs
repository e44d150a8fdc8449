//! In-memory [`super::Distributions`], [`super::Certificates`] and [`super::DnsRecords`] for
//! unit tests.
