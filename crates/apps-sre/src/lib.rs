//! Applications and observability on the ShopStack cluster: images, secrets, Helm releases, Argo CD.

pub mod cli;
