//! Named parameters: the point at which a gradient is checked.
//!
//! A [`ParamSet`] is an ordered list of named parameters; each is a scalar or a small vector of
//! `f64` values with optional [`Bounds`]. The closure under test receives them as
//! [`ParamTensors`]: one rank-1 tensor per parameter (a scalar is a tensor of shape `[1]`), in
//! the dtype the check runs in.
//!
//! Components are numbered in insertion order, parameter by parameter, element by element; the
//! report labels them `name` (scalars) or `name[i]` (vectors).

use std::ops::Index;

use burn::tensor::{backend::Backend, DType, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// Closed interval `[lower, upper]` a parameter must stay in; `None` means unbounded on that side.
///
/// Finite differences never evaluate the closure outside the bounds: near a bound the check
/// switches to a one-sided second-order stencil (see [`crate::finite_difference`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Bounds {
    /// Lower bound (inclusive), if any.
    pub lower: Option<f64>,
    /// Upper bound (inclusive), if any.
    pub upper: Option<f64>,
}

impl Bounds {
    /// No bounds.
    pub const UNBOUNDED: Bounds = Bounds {
        lower: None,
        upper: None,
    };

    /// Both bounds.
    pub fn new(lower: f64, upper: f64) -> Self {
        Bounds {
            lower: Some(lower),
            upper: Some(upper),
        }
    }

    /// Only a lower bound.
    pub fn at_least(lower: f64) -> Self {
        Bounds {
            lower: Some(lower),
            upper: None,
        }
    }

    /// Only an upper bound.
    pub fn at_most(upper: f64) -> Self {
        Bounds {
            lower: None,
            upper: Some(upper),
        }
    }

    /// Lower bound, `-inf` when absent.
    pub fn lo(&self) -> f64 {
        self.lower.unwrap_or(f64::NEG_INFINITY)
    }

    /// Upper bound, `+inf` when absent.
    pub fn hi(&self) -> f64 {
        self.upper.unwrap_or(f64::INFINITY)
    }

    /// Whether `x` lies in `[lower, upper]`.
    pub fn contains(&self, x: f64) -> bool {
        x >= self.lo() && x <= self.hi()
    }
}

/// One named parameter: a scalar or a vector of values, with optional bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// Name the closure looks the tensor up by.
    pub name: String,
    /// Values (length 1 for a scalar).
    pub values: Vec<f64>,
    /// Whether the parameter was declared as a scalar (affects labels only).
    pub scalar: bool,
    /// Bounds applied to every element.
    pub bounds: Bounds,
}

impl Param {
    /// A scalar parameter (a tensor of shape `[1]` in the closure).
    pub fn scalar(name: impl Into<String>, value: f64) -> Self {
        Param {
            name: name.into(),
            values: vec![value],
            scalar: true,
            bounds: Bounds::UNBOUNDED,
        }
    }

    /// A vector parameter (a tensor of shape `[n]` in the closure).
    pub fn vector(name: impl Into<String>, values: impl Into<Vec<f64>>) -> Self {
        Param {
            name: name.into(),
            values: values.into(),
            scalar: false,
            bounds: Bounds::UNBOUNDED,
        }
    }

    /// Set the bounds of every element.
    pub fn bounded(mut self, bounds: Bounds) -> Self {
        self.bounds = bounds;
        self
    }

    /// Label of element `i` in reports: `name` for scalars, `name[i]` for vectors.
    pub fn label(&self, i: usize) -> String {
        if self.scalar {
            self.name.clone()
        } else {
            format!("{}[{}]", self.name, i)
        }
    }
}

/// Ordered set of named parameters.
///
/// ```
/// use nanobragg_parity::{Bounds, ParamSet};
/// let params = ParamSet::new()
///     .scalar("theta", 0.3)
///     .vector("v", [1.0, 2.0, 3.0])
///     .scalar("sigma", 1.0)
///     .with_bounds(Bounds::at_least(0.0)); // applies to the last parameter added
/// assert_eq!(params.num_components(), 5);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ParamSet {
    params: Vec<Param>,
}

impl ParamSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append a parameter.
    pub fn push(mut self, param: Param) -> Self {
        self.params.push(param);
        self
    }

    /// Append a scalar parameter.
    pub fn scalar(self, name: impl Into<String>, value: f64) -> Self {
        self.push(Param::scalar(name, value))
    }

    /// Append a vector parameter.
    pub fn vector(self, name: impl Into<String>, values: impl Into<Vec<f64>>) -> Self {
        self.push(Param::vector(name, values))
    }

    /// Set the bounds of the most recently added parameter (no-op on an empty set).
    pub fn with_bounds(mut self, bounds: Bounds) -> Self {
        if let Some(last) = self.params.last_mut() {
            last.bounds = bounds;
        }
        self
    }

    /// The parameters, in order.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Look a parameter up by name.
    pub fn get(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// Total number of scalar components (the length of the flattened gradient).
    pub fn num_components(&self) -> usize {
        self.params.iter().map(|p| p.values.len()).sum()
    }

    /// Component labels in flattened order (`name` or `name[i]`).
    pub fn labels(&self) -> Vec<String> {
        self.params
            .iter()
            .flat_map(|p| (0..p.values.len()).map(move |i| p.label(i)))
            .collect()
    }

    /// All values flattened in component order.
    pub fn flat_values(&self) -> Vec<f64> {
        self.params
            .iter()
            .flat_map(|p| p.values.iter().copied())
            .collect()
    }

    /// Replace every value with `round(value)` (used to snap values to the check's dtype).
    pub(crate) fn map_values(&self, round: impl Fn(f64) -> f64) -> ParamSet {
        let mut out = self.clone();
        for p in &mut out.params {
            for v in &mut p.values {
                *v = round(*v);
            }
        }
        out
    }

    /// Set flattened component `k` to `value`.
    pub(crate) fn set_component(&mut self, k: usize, value: f64) {
        let (p, i) = self.locate(k);
        self.params[p].values[i] = value;
    }

    /// `(parameter index, element index)` of flattened component `k`.
    pub(crate) fn locate(&self, mut k: usize) -> (usize, usize) {
        for (p, param) in self.params.iter().enumerate() {
            if k < param.values.len() {
                return (p, k);
            }
            k -= param.values.len();
        }
        panic!("component index out of range")
    }

    /// Check names, values and bounds.
    pub(crate) fn validate(&self) -> Result<(), crate::GradcheckError> {
        use crate::GradcheckError::{InvalidParam, NoParams};
        if self.params.is_empty() {
            return Err(NoParams);
        }
        for (i, p) in self.params.iter().enumerate() {
            let bad = |reason: String| InvalidParam {
                name: p.name.clone(),
                reason,
            };
            if self.params[..i].iter().any(|q| q.name == p.name) {
                return Err(bad("duplicate name".into()));
            }
            if p.values.is_empty() {
                return Err(bad("no values".into()));
            }
            if p.bounds.lower.is_some_and(f64::is_nan) || p.bounds.upper.is_some_and(f64::is_nan) {
                return Err(bad("NaN bound".into()));
            }
            if p.bounds.lo() >= p.bounds.hi() {
                return Err(bad(format!(
                    "empty interval [{}, {}]",
                    p.bounds.lo(),
                    p.bounds.hi()
                )));
            }
            for (j, &v) in p.values.iter().enumerate() {
                if !v.is_finite() {
                    return Err(bad(format!("{} is not finite", p.label(j))));
                }
                if !p.bounds.contains(v) {
                    return Err(bad(format!(
                        "{} = {v} lies outside [{}, {}]",
                        p.label(j),
                        p.bounds.lo(),
                        p.bounds.hi()
                    )));
                }
            }
        }
        Ok(())
    }
}

/// The parameters as tensors, handed to the closure under test.
///
/// Every tensor is rank 1 (`[1]` for scalars), lives on the check's device and has the check's
/// dtype. During the analytic pass they require grad; during finite-difference evaluations they
/// do not.
#[derive(Debug, Clone)]
pub struct ParamTensors<B: Backend> {
    names: Vec<String>,
    tensors: Vec<Tensor<B, 1>>,
    device: B::Device,
    dtype: DType,
}

impl<B: Backend> ParamTensors<B> {
    pub(crate) fn new(
        names: Vec<String>,
        tensors: Vec<Tensor<B, 1>>,
        device: B::Device,
        dtype: DType,
    ) -> Self {
        ParamTensors {
            names,
            tensors,
            device,
            dtype,
        }
    }

    /// The tensor of parameter `name`, if present.
    pub fn get(&self, name: &str) -> Option<&Tensor<B, 1>> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| &self.tensors[i])
    }

    /// A clone of the tensor of parameter `name`.
    ///
    /// # Panics
    /// If there is no such parameter (the message lists the known names).
    pub fn tensor(&self, name: &str) -> Tensor<B, 1> {
        self[name].clone()
    }

    /// Parameter names in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// `(name, tensor)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor<B, 1>)> {
        self.names
            .iter()
            .map(String::as_str)
            .zip(self.tensors.iter())
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// The device the check runs on.
    pub fn device(&self) -> &B::Device {
        &self.device
    }

    /// The dtype the check runs in (the closure's output must have it too).
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// A constant tensor on the check's device **in the check's dtype**.
    ///
    /// Prefer this over `Tensor::from_floats`/`zeros` inside a checked closure: those follow the
    /// device's default dtype, which may differ from the check's dtype (see the crate docs).
    ///
    /// # Panics
    /// If `values.len()` does not match `shape`.
    pub fn constant<const D: usize>(&self, values: Vec<f64>, shape: [usize; D]) -> Tensor<B, D> {
        assert_eq!(
            values.len(),
            shape.iter().product::<usize>(),
            "constant: {} values for shape {shape:?}",
            values.len()
        );
        Tensor::from_data(TensorData::new(values, shape), (&self.device, self.dtype))
    }
}

impl<B: Backend> Index<&str> for ParamTensors<B> {
    type Output = Tensor<B, 1>;

    fn index(&self, name: &str) -> &Tensor<B, 1> {
        self.get(name).unwrap_or_else(|| {
            panic!(
                "no parameter named `{name}` (known: {})",
                self.names.join(", ")
            )
        })
    }
}
