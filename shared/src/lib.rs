pub mod alg;
pub mod jwk;
