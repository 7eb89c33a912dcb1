//! `nanobragg batch`: a list of 100 small shots rendered in one process, each shot's files
//! byte-identical to `nanobragg` run alone with that shot's flags (`-misset`, `-N`, `-seed`,
//! `-fluence`); a bad shot or a missing list refuses the batch before any file is written.

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use common::{run, scratch, stderr, stdout};

/// The shared scene: detector, beam, cell and sampling.
const BASE: &str = "-cell 70 80 90 90 90 90 -default_F 100 -lambda 1 -distance 100 -detpixels 24 \
    -pixel 0.2 -oversample 1 -nopgm -noprogress";

/// Shot `i`'s misset, N, seed and fluence.
fn shot(i: usize) -> ([f64; 3], f64, i64, f64) {
    let m = [(i as f64 * 37.1) % 360.0, (i as f64 * 11.3) % 180.0 - 90.0, (i as f64 * 5.9) % 360.0];
    (m, 3.0 + (i % 4) as f64, 1000 + i as i64, 1e24 * (1.0 + (i % 3) as f64))
}

fn write_list(dir: &Path, n: usize, bad: Option<usize>) {
    let mut toml = String::new();
    for i in 0..n {
        let (m, cells, seed, fluence) = shot(i);
        writeln!(toml, "[[shot]]\nname = \"shot_{i:03}\"\nmisset_deg = [{}, {}, {}]", m[0], m[1], m[2]).unwrap();
        if bad == Some(i) {
            writeln!(toml, "wavelength_a = 0.0").unwrap();
        }
        writeln!(toml, "n_cells = [{cells}, {cells}, {cells}]\nseed = {seed}\nfluence = {fluence:e}\n").unwrap();
    }
    std::fs::write(dir.join("shots.toml"), toml).unwrap();
}

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_batch_of_100_shots_writes_what_each_shot_alone_writes() {
    let dir = scratch("batch");
    std::fs::create_dir(dir.join("out")).unwrap();
    write_list(&dir, 100, None);
    let out = run(&dir, &format!("batch -shots shots.toml -outdir out {BASE}"));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().filter(|l| l.starts_with("shot ")).count(), 100, "one line per shot: {text}");
    assert!(text.contains("rendered 100 shots") && text.contains("images/s"), "{text}");
    for i in 0..100 {
        for ext in ["bin", "img", "noise.img"] {
            assert!(dir.join(format!("out/shot_{i:03}.{ext}")).exists(), "shot {i}: no .{ext}");
        }
    }
    for i in [0, 37, 99] {
        let (m, cells, seed, fluence) = shot(i);
        let alone = format!(
            "{BASE} -misset {} {} {} -N {cells} -seed {seed} -fluence {fluence:e} -floatfile a.bin -intfile a.img -noisefile a.noise.img",
            m[0], m[1], m[2]
        );
        let single = run(&dir, &alone);
        assert!(single.status.success(), "{}", stderr(&single));
        for (ext, mine) in [("bin", "a.bin"), ("img", "a.img"), ("noise.img", "a.noise.img")] {
            assert!(bytes(&dir.join(format!("out/shot_{i:03}.{ext}"))) == bytes(&dir.join(mine)), "shot {i}: .{ext} differs from the render alone");
        }
    }
}

#[test]
fn a_bad_shot_refuses_the_batch_before_any_file_is_written() {
    let dir = scratch("batch-bad");
    std::fs::create_dir(dir.join("out")).unwrap();
    write_list(&dir, 60, Some(42));
    let out = run(&dir, &format!("batch -shots shots.toml -outdir out {BASE}"));
    let err = stderr(&out);
    assert!(!out.status.success(), "accepted a shot of wavelength 0");
    assert!(err.contains("shot_042"), "the shot is named: {err}");
    assert_eq!(err.lines().filter(|l| l.starts_with("nanobragg: error:")).count(), 1, "one error line: {err}");
    assert_eq!(std::fs::read_dir(dir.join("out")).unwrap().count(), 0, "nothing written");
    for (args, want) in [
        (format!("batch -outdir out {BASE}"), "-shots"),
        (format!("batch -shots missing.toml -outdir out {BASE}"), "missing.toml"),
        (format!("batch -shots shots.toml -outdir nowhere {BASE}"), "nowhere"),
        (format!("-shots shots.toml {BASE}"), "batch"),
    ] {
        let out = run(&dir, &args);
        assert!(!out.status.success() && stderr(&out).contains(want), "{args}: {}", stderr(&out));
    }
    assert_eq!(std::fs::read_dir(dir.join("out")).unwrap().count(), 0, "nothing written");
    // A shot whose file would overwrite the shot list itself.
    let list = "[[shot]]\nname = \"list\"\n";
    std::fs::write(dir.join("list.img"), list).unwrap();
    let out = run(&dir, &format!("batch -shots list.img {BASE}"));
    assert!(!out.status.success() && stderr(&out).contains("-shots"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(dir.join("list.img")).unwrap(), list, "the shot list is untouched");
}

/// A list of `n` shots with no seed of their own (they share `-seed`).
fn write_unseeded_list(dir: &Path, n: usize) {
    let mut toml = String::new();
    for i in 0..n {
        let (m, cells, _, fluence) = shot(i);
        writeln!(toml, "[[shot]]\nname = \"shot_{i:03}\"\nmisset_deg = [{}, {}, {}]", m[0], m[1], m[2]).unwrap();
        writeln!(toml, "n_cells = [{cells}, {cells}, {cells}]\nfluence = {:e}\n", fluence * 1e6).unwrap();
    }
    std::fs::write(dir.join(format!("shots{n}.toml")), toml).unwrap();
}

#[test]
fn philox_noise_depends_on_seed_shot_and_pixel_only() {
    use nanobragg::random::counter::{poisson_deviate, CounterKey};
    let dir = scratch("batch-philox");
    for n in [2, 5] {
        std::fs::create_dir(dir.join(format!("out{n}"))).unwrap();
        write_unseeded_list(&dir, n);
    }
    let flags = format!("{BASE} -seed 77 -noise_rng philox");
    // Five shots on one thread, then the first two alone on the default pool.
    let five = Command::new(common::bin())
        .args(format!("batch -shots shots5.toml -outdir out5 {flags}").split_whitespace())
        .env("RAYON_NUM_THREADS", "1")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(five.status.success(), "{}", stderr(&five));
    let two = run(&dir, &format!("batch -shots shots2.toml -outdir out2 {flags}"));
    assert!(two.status.success(), "{}", stderr(&two));
    for i in 0..2 {
        let name = format!("shot_{i:03}.noise.img");
        assert!(bytes(&dir.join("out5").join(&name)) == bytes(&dir.join("out2").join(&name)), "shot {i}: noise differs between lists");
    }
    // Each count is ADC + the deviate of the pixel's photons, keyed by (seed, shot index, pixel),
    // and the counts add up to the photons within Poisson error.
    let (mut streams_differ, mut brightest) = (false, 0.0f32);
    for i in 0..5u32 {
        let out = dir.join("out5");
        let photons = nanobragg::io::float_image::read_float_image(&out.join(format!("shot_{i:03}.bin")), 24 * 24).unwrap();
        let noise = nanobragg::io::smv::read_smv(&out.join(format!("shot_{i:03}.noise.img"))).unwrap().data;
        let key = CounterKey { seed: 77, stream: i };
        let (mut sum_photons, mut sum_counts) = (0.0, 0.0);
        for (p, (&mean, &count)) in photons.iter().zip(&noise).enumerate() {
            let deviate = poisson_deviate(f64::from(mean), key, p as u32);
            assert_eq!(f64::from(count), (deviate + 40.0).min(65535.0).floor(), "shot {i} pixel {p}");
            let other = poisson_deviate(f64::from(mean), CounterKey { stream: i + 1, ..key }, p as u32);
            streams_differ |= deviate != other;
            brightest = brightest.max(mean);
            sum_photons += f64::from(mean);
            sum_counts += f64::from(count) - 40.0;
        }
        assert!(sum_photons > 100.0, "shot {i}: too few photons ({sum_photons}) to test the noise");
        assert!((sum_counts - sum_photons).abs() < 5.0 * sum_photons.sqrt(), "shot {i}: {sum_counts} counts for {sum_photons} photons");
    }
    assert!(streams_differ, "the shot index keys the noise");
    assert!(brightest >= 10.0, "no pixel reaches the rejection sampler ({brightest} photons at most)");
    // The first shot rendered alone (stream 0) draws the same noise as in the batch.
    let (m, cells, _, fluence) = shot(0);
    let alone = format!("{flags} -misset {} {} {} -N {cells} -fluence {:e} -noisefile a.noise.img", m[0], m[1], m[2], fluence * 1e6);
    let single = run(&dir, &alone);
    assert!(single.status.success(), "{}", stderr(&single));
    assert!(bytes(&dir.join("a.noise.img")) == bytes(&dir.join("out5/shot_000.noise.img")), "shot 0 alone differs");
}

/// A shot's `mask` gives pixels only: a mask whose SMV header carries the image's geometry (as
/// a copy of the shot's own header does) renders the shot as with no mask, where `-mask` with
/// the same file moves the beam centre as the C program does (its BEAM_CENTER_Y flipped).
#[test]
fn a_shots_mask_header_does_not_move_its_geometry() {
    let dir = scratch("batch-mask-header");
    for out in ["plain", "masked"] {
        std::fs::create_dir(dir.join(out)).unwrap();
    }
    let shot = "[[shot]]\nname = \"a\"\nmisset_deg = [10, 20, 30]\n";
    std::fs::write(dir.join("plain.toml"), shot).unwrap();
    let plain = run(&dir, &format!("batch -shots plain.toml -outdir plain {BASE} -nonoise"));
    assert!(plain.status.success(), "{}", stderr(&plain));
    // The shot's own SMV file with every pixel set to 1: its header holds the geometry.
    let img = bytes(&dir.join("plain/a.img"));
    let mut mask = img[..512].to_vec();
    mask.extend(std::iter::repeat([1u8, 0u8]).take(24 * 24).flatten());
    std::fs::write(dir.join("m.img"), &mask).unwrap();
    std::fs::write(dir.join("masked.toml"), format!("{shot}mask = \"m.img\"\n")).unwrap();
    let masked = run(&dir, &format!("batch -shots masked.toml -outdir masked {BASE} -nonoise"));
    assert!(masked.status.success(), "{}", stderr(&masked));
    assert!(bytes(&dir.join("masked/a.bin")) == bytes(&dir.join("plain/a.bin")), "the shot's mask moved its geometry");
    let c_mask = run(&dir, &format!("{BASE} -misset 10 20 30 -mask m.img -floatfile c.bin -nonoise"));
    assert!(c_mask.status.success(), "{}", stderr(&c_mask));
    assert!(bytes(&dir.join("c.bin")) != bytes(&dir.join("plain/a.bin")), "-mask's header sets the geometry (C semantics)");
}
