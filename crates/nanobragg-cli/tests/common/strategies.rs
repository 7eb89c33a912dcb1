//! Strategies for random command lines, shared by the parser's property tests
//! (`tests/parser_fuzz.rs`) and the long fuzzing run (`examples/fuzz_inputs.rs`).
#![allow(dead_code)]

use nanobragg_cli::{flag_table, Arity};
use proptest::prelude::*;
use proptest::sample::select;

/// Every spelling in the flag table.
pub fn names() -> Vec<String> {
    flag_table()
        .iter()
        .flat_map(|s| s.names.iter().map(|n| n.to_string()))
        .collect()
}

/// Tokens a careless or hostile command line might hold.
pub fn token() -> impl Strategy<Value = String> {
    let special = vec![
        "inf",
        "-inf",
        "nan",
        "NaN",
        "random",
        "rand",
        "beam",
        "sample",
        "-",
        "--",
        "",
        " ",
        "1e999",
        "-1e-999",
        "f32",
        "f64",
        "spec",
        "c-parity",
        "0",
        "-0",
        "64.0",
        "64.",
        ".",
        "+",
        "-.5",
        "9223372036854775808",
        "-9223372036854775809",
        "18446744073709551616",
        "0x10",
        "1,5",
        "é",
        "-é",
        "\u{0}",
        "-cel",
        "-mosaic_",
        "--distance",
        "-twotheta_axisx",
    ];
    prop_oneof![
        6 => select(names()),
        3 => any::<f64>().prop_map(|x| x.to_string()),
        2 => any::<i64>().prop_map(|x| x.to_string()),
        2 => "-?[0-9]{1,4}(\\.[0-9]{0,3})?",
        2 => "[-a-zA-Z0-9_.+]{0,12}",
        2 => select(special).prop_map(String::from),
        1 => any::<String>(),
    ]
}

/// A valid value for the flag `name` (numbers are integers, which every numeric flag takes).
pub fn value_for(name: &str) -> BoxedStrategy<String> {
    match name {
        "-pivot" => select(vec!["beam", "sample", "BEAM"])
            .prop_map(String::from)
            .boxed(),
        "-dtype" => select(vec!["f32", "f64"]).prop_map(String::from).boxed(),
        "-noise_rng" => select(vec!["c", "philox"]).prop_map(String::from).boxed(),
        "-phi_carryover_mode" => select(vec!["spec", "c-parity"])
            .prop_map(String::from)
            .boxed(),
        "-energy" | "-tile_pixels" | "-max_iter" | "-cycles" | "-checkpoint_every" | "-F_prior" => {
            (1i64..100_000).prop_map(|n| n.to_string()).boxed()
        }
        "-schedule" => select(vec!["joint", "alternating", "shots"]).prop_map(String::from).boxed(),
        "-experiment" => (0i64..100_000).prop_map(|n| n.to_string()).boxed(),
        "-panel" => prop_oneof![Just("all".to_string()), (0i64..1000).prop_map(|n| n.to_string())].boxed(),
        "-optimizer" => select(vec!["lbfgs", "adam", "Adam"]).prop_map(String::from).boxed(),
        "-engine" => select(vec!["auto", "tensor"]).prop_map(String::from).boxed(),
        "-detector_abs" | "-detector_absorb" => prop_oneof![
            Just("inf".to_string()),
            (-1000i64..1000).prop_map(|n| n.to_string())
        ]
        .boxed(),
        "-backend" => "[a-z]{1,8}".boxed(),
        // File names: never a flag name, never empty.
        _ if is_file_flag(name) => "[a-z][a-z0-9_.]{0,10}".boxed(),
        _ => (-100_000i64..100_000).prop_map(|n| n.to_string()).boxed(),
    }
}

pub fn is_file_flag(name: &str) -> bool {
    flag_table()
        .iter()
        .find(|s| s.names.contains(&name))
        .is_some_and(|s| s.values.contains("file") || s.values.contains(".toml"))
}

/// One flag (never `-scene`, which would need a file) with a valid number of valid values.
pub fn well_formed_occurrence() -> impl Strategy<Value = Vec<String>> {
    let names: Vec<String> = names().into_iter().filter(|n| n != "-scene").collect();
    select(names).prop_flat_map(|name| {
        let spec = flag_table()
            .iter()
            .find(|s| s.names.contains(&name.as_str()))
            .unwrap();
        let count: BoxedStrategy<usize> = match spec.arity {
            Arity::Switch => Just(0).boxed(),
            Arity::Values(n) => Just(n).boxed(),
            Arity::Cell => (1usize..=6).boxed(),
            Arity::Misset => Just(3).boxed(),
        };
        let cell = spec.arity == Arity::Cell;
        let head = name.clone();
        count
            .prop_flat_map(move |n| {
                let v = if cell {
                    (-1000i64..1000).prop_map(|x| x.to_string()).boxed()
                } else {
                    value_for(&name)
                };
                proptest::collection::vec(v, n)
            })
            .prop_map(move |vals| std::iter::once(head.clone()).chain(vals).collect())
    })
}

