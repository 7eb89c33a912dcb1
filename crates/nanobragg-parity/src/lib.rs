//! Gradcheck utilities (finite differences vs autodiff) and the C-parity φ cache.
