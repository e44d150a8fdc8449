//! The real [`super::Distributions`], [`super::Certificates`] and [`super::DnsRecords`]:
//! aws-sdk-cloudfront, aws-sdk-acm (in us-east-1) and aws-sdk-route53.
