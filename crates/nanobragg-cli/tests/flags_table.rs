//! Table-driven tests of the flag parser: every flag and synonym → field → value, the order
//! semantics and C quirks, the errors, the golden argument lines and the scene TOML round trip.

use std::path::PathBuf;

use nanobragg::scene::{Convention, LatticeShape, Pivot, Scene};
use nanobragg_cli::{
    flag_table, parse_args, usage, CliError, CommandLine, DType, PhiCarryoverMode,
};

fn parse(line: &str) -> Result<CommandLine, CliError> {
    parse_args(line.split_whitespace().map(String::from))
}

fn ok(line: &str) -> CommandLine {
    parse(line).unwrap_or_else(|e| panic!("`{line}` failed: {e}"))
}

fn p(s: &str) -> Option<PathBuf> {
    Some(PathBuf::from(s))
}

/// One row: these spellings, followed by these values, change the default command line
/// exactly as `set` does (and nothing else).
struct Case {
    names: &'static [&'static str],
    values: &'static str,
    set: fn(&mut CommandLine),
}

macro_rules! case {
    ([$($name:literal),+], $values:literal, |$c:ident| $body:expr) => {
        Case { names: &[$($name),+], values: $values, set: |$c: &mut CommandLine| $body }
    };
}

fn cases() -> Vec<Case> {
    vec![
        // input files
        case!(["-hkl"], "P1.hkl", |c| c.scene.structure.hkl_file =
            p("P1.hkl")),
        case!(["-mat", "-matrix"], "A.mat", |c| c.scene.crystal.mat_file =
            p("A.mat")),
        case!(["-default_F"], "100", |c| c.scene.structure.default_f =
            Some(100.0)),
        case!(["-interpolate"], "", |c| c.scene.structure.interpolate =
            Some(true)),
        case!(["-nointerpolate"], "", |c| c.scene.structure.interpolate =
            Some(false)),
        case!(["-img"], "in.img", |c| c.scene.io.img_file = p("in.img")),
        case!(["-mask"], "mask.img", |c| c.scene.io.mask_file =
            p("mask.img")),
        case!(["-sourcefile"], "src.txt", |c| c.scene.beam.source_file =
            p("src.txt")),
        case!(["-stol", "-4stol", "-Q"], "sq.txt", |c| c
            .scene
            .io
            .stol_file =
            p("sq.txt")),
        case!(["-stolout"], "out.txt", |c| c.scene.io.stolout_file =
            p("out.txt")),
        // crystal
        case!(["-cell"], "70 80 90 91 92 93", |c| c.scene.crystal.cell =
            Some([70.0, 80.0, 90.0, 91.0, 92.0, 93.0])),
        case!(["-misset"], "10 -20 30.5", |c| c.scene.crystal.misset_deg =
            Some([10.0, -20.0, 30.5])),
        case!(["-misset_seed"], "321", |c| c.scene.crystal.misset_seed =
            Some(321)),
        case!(["-N"], "7", |c| c.scene.crystal.n_cells = Some([7.0; 3])),
        case!(["-Na"], "4", |c| c.scene.crystal.n_cells =
            Some([4.0, 1.0, 1.0])),
        case!(["-Nb"], "5", |c| c.scene.crystal.n_cells =
            Some([1.0, 5.0, 1.0])),
        case!(["-Nc"], "6", |c| c.scene.crystal.n_cells =
            Some([1.0, 1.0, 6.0])),
        case!(
            ["-xtalsize", "-xtal_size", "-samplesize", "-sample_size"],
            "0.05",
            |c| c.scene.crystal.sample_size_mm = [0.05; 3]
        ),
        case!(
            ["-xtal_thick", "-xtal_x", "-sample_thick", "-sample_x"],
            "0.01",
            |c| c.scene.crystal.sample_size_mm[0] = 0.01
        ),
        case!(
            [
                "-xtal_width",
                "-xtal_y",
                "-sample_width",
                "-sample_y",
                "-width"
            ],
            "0.02",
            |c| c.scene.crystal.sample_size_mm[1] = 0.02
        ),
        case!(
            [
                "-xtal_height",
                "-xtal_z",
                "-sample_height",
                "-sample_z",
                "-height"
            ],
            "0.03",
            |c| c.scene.crystal.sample_size_mm[2] = 0.03
        ),
        case!(["-square_xtal"], "", |c| c.scene.crystal.shape =
            LatticeShape::Square),
        case!(["-round_xtal"], "", |c| c.scene.crystal.shape =
            LatticeShape::Round),
        case!(["-gauss_xtal"], "", |c| c.scene.crystal.shape =
            LatticeShape::Gauss),
        case!(["-gauss_argchk_xtal"], "", |c| c.scene.crystal.shape =
            LatticeShape::GaussArgchk),
        case!(["-tophat_spots", "-binary_spots"], "", |c| c
            .scene
            .crystal
            .shape =
            LatticeShape::Tophat),
        case!(["-fudge"], "0.5", |c| c.scene.crystal.fudge = Some(0.5)),
        case!(["-mosaic", "-mosaici", "-mosaic_spr"], "0.3", |c| c
            .scene
            .crystal
            .mosaic_spread_deg =
            Some(0.3)),
        case!(["-mosaic_dom", "-mosaic_domains"], "12", |c| c
            .scene
            .crystal
            .mosaic_domains =
            Some(12)),
        case!(["-mosaic_seed"], "777", |c| c.scene.crystal.mosaic_seed =
            Some(777)),
        case!(["-density", "-sample_density"], "1.2", |_c| ()),
        case!(["-MW", "-molecules"], "18", |_c| ()),
        // beam
        case!(["-lambda", "-wave", "-wavelength"], "1.54", |c| c
            .scene
            .beam
            .wavelength_a =
            Some(1.54)),
        case!(["-energy"], "8000", |c| c.scene.beam.wavelength_a =
            Some(12398.42 / 8000.0)),
        case!(["-dispersion"], "0.2", |c| c
            .scene
            .beam
            .dispersion_percent =
            Some(0.2)),
        case!(["-dispsteps"], "5", |c| c.scene.beam.disp_steps = Some(5)),
        case!(["-divergence"], "0.4", |c| {
            c.scene.beam.hdiv_range_mrad = Some(0.4);
            c.scene.beam.vdiv_range_mrad = Some(0.4)
        }),
        case!(["-hdivrange"], "0.5", |c| c.scene.beam.hdiv_range_mrad =
            Some(0.5)),
        case!(["-vdivrange"], "0.6", |c| c.scene.beam.vdiv_range_mrad =
            Some(0.6)),
        case!(["-hdivstep"], "0.05", |c| c.scene.beam.hdiv_step_mrad =
            Some(0.05)),
        case!(["-vdivstep"], "0.06", |c| c.scene.beam.vdiv_step_mrad =
            Some(0.06)),
        case!(["-hdivsteps"], "3", |c| c.scene.beam.hdiv_steps = Some(3)),
        case!(["-vdivsteps"], "4", |c| c.scene.beam.vdiv_steps = Some(4)),
        case!(["-divsteps"], "9", |c| {
            c.scene.beam.hdiv_steps = Some(9);
            c.scene.beam.vdiv_steps = Some(9)
        }),
        case!(["-round_div"], "", |c| c.scene.beam.round_div = Some(true)),
        case!(["-square_div"], "", |c| c.scene.beam.round_div =
            Some(false)),
        case!(["-polar"], "0.9", |c| c.scene.beam.polarization_k =
            Some(0.9)),
        case!(["-nopolar"], "", |c| c.scene.beam.nopolar = true),
        case!(["-fluence"], "1e24", |c| c.scene.beam.fluence = Some(1e24)),
        case!(["-flux"], "1e12", |c| c.scene.beam.flux = Some(1e12)),
        case!(["-exposure"], "2.5", |c| c.scene.beam.exposure_s =
            Some(2.5)),
        case!(["-beamsize"], "0.05", |c| c.scene.beam.beamsize_mm =
            Some(0.05)),
        case!(["-coherent"], "", |_c| ()),
        // detector
        case!(["-pixel"], "0.172", |c| c.scene.detector.pixel_mm =
            Some(0.172)),
        case!(["-detpixels"], "64", |c| {
            c.scene.detector.fpixels = Some(64);
            c.scene.detector.spixels = Some(64)
        }),
        case!(["-detpixels_f", "-detpixels_x"], "100", |c| c
            .scene
            .detector
            .fpixels =
            Some(100)),
        case!(["-detpixels_s", "-detpixels_y"], "200", |c| c
            .scene
            .detector
            .spixels =
            Some(200)),
        case!(["-detsize"], "51.2", |c| {
            c.scene.detector.detsize_f_mm = Some(51.2);
            c.scene.detector.detsize_s_mm = Some(51.2)
        }),
        case!(["-detsize_f"], "30", |c| c.scene.detector.detsize_f_mm =
            Some(30.0)),
        case!(["-detsize_s"], "40", |c| c.scene.detector.detsize_s_mm =
            Some(40.0)),
        case!(["-distance"], "250", |c| {
            c.scene.detector.distance_mm = Some(250.0);
            c.scene.detector.pivot = Some(Pivot::Beam)
        }),
        case!(["-close_distance"], "120", |c| {
            c.scene.detector.close_distance_mm = Some(120.0);
            c.scene.detector.pivot = Some(Pivot::Sample)
        }),
        case!(["-Xbeam"], "51.3", |c| {
            c.scene.detector.xbeam_mm = Some(51.3);
            c.scene.detector.pivot = Some(Pivot::Beam)
        }),
        case!(["-Ybeam"], "48.7", |c| {
            c.scene.detector.ybeam_mm = Some(48.7);
            c.scene.detector.pivot = Some(Pivot::Beam)
        }),
        case!(["-Xclose"], "11", |c| {
            c.scene.detector.xclose_mm = Some(11.0);
            c.scene.detector.pivot = Some(Pivot::Sample)
        }),
        case!(["-Yclose"], "12", |c| {
            c.scene.detector.yclose_mm = Some(12.0);
            c.scene.detector.pivot = Some(Pivot::Sample)
        }),
        case!(["-ORGX"], "512.5", |c| {
            c.scene.detector.orgx_px = Some(512.5);
            c.scene.detector.pivot = Some(Pivot::Sample)
        }),
        case!(["-ORGY"], "500.5", |c| {
            c.scene.detector.orgy_px = Some(500.5);
            c.scene.detector.pivot = Some(Pivot::Sample)
        }),
        case!(["-pivot"], "sample", |c| c.scene.detector.pivot =
            Some(Pivot::Sample)),
        case!(["-mosflm"], "", |c| {
            c.scene.detector.convention = Convention::Mosflm;
            c.scene.detector.pivot = Some(Pivot::Beam)
        }),
        case!(["-xds"], "", |c| {
            c.scene.detector.convention = Convention::Xds;
            c.scene.detector.pivot = Some(Pivot::Sample)
        }),
        case!(["-adxv"], "", |c| {
            c.scene.detector.convention = Convention::Adxv;
            c.scene.detector.pivot = Some(Pivot::Beam)
        }),
        case!(["-denzo"], "", |c| {
            c.scene.detector.convention = Convention::Denzo;
            c.scene.detector.pivot = Some(Pivot::Beam)
        }),
        case!(["-dials"], "", |c| {
            c.scene.detector.convention = Convention::Dials;
            c.scene.detector.pivot = Some(Pivot::Beam)
        }),
        case!(["-fdet_vector"], "0 0 1", |c| {
            c.scene.detector.fdet_vector = Some([0.0, 0.0, 1.0]);
            c.scene.detector.convention = Convention::Custom
        }),
        case!(["-sdet_vector"], "0 -1 0", |c| {
            c.scene.detector.sdet_vector = Some([0.0, -1.0, 0.0]);
            c.scene.detector.convention = Convention::Custom
        }),
        case!(["-odet_vector"], "1 0 0", |c| {
            c.scene.detector.odet_vector = Some([1.0, 0.0, 0.0]);
            c.scene.detector.convention = Convention::Custom
        }),
        case!(["-beam_vector"], "0.6 0.8 0", |c| {
            c.scene.detector.beam_vector = Some([0.6, 0.8, 0.0]);
            c.scene.detector.convention = Convention::Custom
        }),
        case!(["-polar_vector"], "0 1 0", |c| {
            c.scene.detector.polar_vector = Some([0.0, 1.0, 0.0]);
            c.scene.detector.convention = Convention::Custom
        }),
        case!(["-spindle_axis"], "-1 0 0", |c| {
            c.scene.detector.spindle_axis = Some([-1.0, 0.0, 0.0]);
            c.scene.detector.convention = Convention::Custom
        }),
        // C quirk: the -twotheta test also matches -twotheta_axis.
        case!(["-twotheta_axis"], "0.6 0 -0.8", |c| {
            c.scene.detector.twotheta_axis = Some([0.6, 0.0, -0.8]);
            c.scene.detector.convention = Convention::Custom;
            c.scene.detector.twotheta_deg = Some(0.6);
            c.scene.detector.pivot = Some(Pivot::Sample)
        }),
        case!(["-pix0_vector"], "0.1 0.05 -0.05", |c| {
            c.scene.detector.pix0_vector_m = Some([0.1, 0.05, -0.05]);
            c.scene.detector.convention = Convention::Custom
        }),
        case!(["-detector_rotx"], "1.5", |c| c.scene.detector.rotx_deg =
            Some(1.5)),
        case!(["-detector_roty"], "-2.5", |c| c.scene.detector.roty_deg =
            Some(-2.5)),
        case!(["-detector_rotz"], "3.5", |c| c.scene.detector.rotz_deg =
            Some(3.5)),
        case!(["-twotheta"], "20", |c| {
            c.scene.detector.twotheta_deg = Some(20.0);
            c.scene.detector.pivot = Some(Pivot::Sample)
        }),
        case!(["-curved_det"], "", |c| c.scene.detector.curved_det = true),
        case!(["-point_pixel"], "", |c| c.scene.detector.point_pixel =
            true),
        case!(["-detector_abs", "-detector_absorb"], "500", |c| c
            .scene
            .detector
            .abs_depth_um =
            Some(500.0)),
        case!(["-detector_thick"], "450", |c| c.scene.detector.thick_um =
            Some(450.0)),
        case!(["-detector_thicksteps", "-thicksteps"], "5", |c| c
            .scene
            .detector
            .thick_steps =
            Some(5)),
        // sampling
        case!(["-phi"], "10", |c| c.scene.spindle.phi_start_deg =
            Some(10.0)),
        case!(["-osc"], "0.5", |c| c.scene.spindle.osc_deg = Some(0.5)),
        case!(["-phistep"], "0.1", |c| c.scene.spindle.phi_step_deg =
            Some(0.1)),
        case!(["-phisteps"], "5", |c| c.scene.spindle.phi_steps = Some(5)),
        case!(["-oversample"], "3", |c| c.scene.sampling.oversample =
            Some(3)),
        case!(["-oversample_thick"], "", |c| c
            .scene
            .sampling
            .oversample_thick = true),
        case!(["-oversample_polar"], "", |c| c
            .scene
            .sampling
            .oversample_polar = true),
        case!(["-oversample_omega"], "", |c| c
            .scene
            .sampling
            .oversample_omega = true),
        case!(["-roi"], "1 20 3 40", |c| c.scene.sampling.roi =
            Some([1, 20, 3, 40])),
        case!(["-dmin"], "2.5", |c| c.scene.sampling.dmin_a = Some(2.5)),
        case!(["-water"], "100", |c| c.scene.sampling.water_um =
            Some(100.0)),
        // output
        case!(["-floatfile", "-floatimage"], "f.bin", |c| c
            .scene
            .io
            .floatfile =
            p("f.bin")),
        case!(["-intfile", "-intimage"], "i.img", |c| c.scene.io.intfile =
            p("i.img")),
        case!(["-noisefile", "-noiseimage"], "n.img", |c| c
            .scene
            .io
            .noisefile =
            p("n.img")),
        case!(["-pgmfile", "-pgmimage"], "g.pgm", |c| c.scene.io.pgmfile =
            p("g.pgm")),
        case!(["-scale"], "2.5", |c| c.scene.io.int_scale = Some(2.5)),
        case!(["-adc"], "10", |c| c.scene.io.adc_offset = Some(10.0)),
        case!(["-pgmscale"], "3", |c| c.scene.io.pgm_scale = Some(3.0)),
        case!(["-nopgm"], "", |c| c.scene.io.nopgm = true),
        case!(["-nonoise"], "", |c| c.scene.io.nonoise = true),
        case!(["-seed"], "42", |c| c.scene.io.seed = Some(42)),
        case!(["-noise_rng"], "philox", |c| c.scene.io.noise_rng = nanobragg::scene::NoiseRng::Philox),
        case!(["-noise_rng"], "c", |c| c.scene.io.noise_rng = nanobragg::scene::NoiseRng::C),
        case!(["-printout"], "", |c| c.scene.io.printout = true),
        // C quirk: the -printout test also matches -printout_pixel.
        case!(["-printout_pixel"], "3 4", |c| {
            c.scene.io.printout_pixel = Some([3, 4]);
            c.scene.io.printout = true
        }),
        case!(["-trace_pixel", "-dump_pixel"], "5 6", |c| c
            .scene
            .io
            .trace_pixel =
            Some([5, 6])),
        case!(["-progress"], "", |c| c.scene.io.progress = Some(true)),
        case!(["-noprogress"], "", |c| c.scene.io.progress = Some(false)),
        // ours
        case!(["-h", "-help", "--help"], "", |c| c.help = true),
        case!(["-dtype"], "f32", |c| c.dtype = DType::F32),
        case!(["-backend"], "cuda", |c| c.backend = "cuda".to_string()),
        case!(["-dump_scene"], "out.toml", |c| c.dump_scene =
            p("out.toml")),
        case!(["-phi_carryover_mode"], "c-parity", |c| c
            .phi_carryover_mode =
            PhiCarryoverMode::CParity),
        case!(["-tile_pixels"], "4096", |c| c.tile_pixels = Some(4096)),
        case!(["-engine"], "tensor", |c| c.engine = nanobragg::kernel::Engine::Tensor),
        case!(["-pngfile"], "prev.png", |c| c.scene.io.pngfile =
            p("prev.png")),
        case!(["-png_log"], "", |c| c.scene.io.png_log = true),
        case!(["-cbffile"], "out.cbf", |c| c.scene.io.cbffile = p("out.cbf")),
        case!(["-nxsfile"], "out.nxs", |c| c.nxsfile = p("out.nxs")),
        case!(["-refined_expt"], "r.expt", |c| c.refine.refined_expt = p("r.expt")),
        case!(["-expt"], "models.expt", |c| c.expt = p("models.expt")),
        case!(["-shots"], "list.toml", |c| c.shots = p("list.toml")),
        case!(["-outdir"], "out", |c| c.outdir = p("out")),
        case!(["-refine_shot"], "misset_x,scale", |c| c.ensemble.own = vec!["misset_x".to_string(), "scale".to_string()]),
        case!(["-cycles"], "4", |c| c.ensemble.cycles = Some(4)),
        case!(["-schedule"], "alternating", |c| c.ensemble.schedule = nanobragg_cli::ScheduleArg::Alternating),
        case!(["-schedule"], "shots", |c| c.ensemble.schedule = nanobragg_cli::ScheduleArg::Shots),
        case!(["-checkpoint_every"], "2", |c| c.ensemble.checkpoint_every = Some(2)),
        case!(["-restart"], "out/checkpoint.json", |c| c.ensemble.restart = p("out/checkpoint.json")),
        case!(["-F_prior"], "0.5", |c| c.ensemble.f_prior = Some(0.5)),
        case!(["-skip_bad_shots"], "", |c| c.ensemble.skip_bad_shots = true),
        case!(["-experiment"], "2", |c| c.experiment = 2),
        case!(["-panel"], "7", |c| c.panel = nanobragg_cli::PanelChoice::One(7)),
        case!(["-panel_shift"], "0.1 -0.2 0.3", |c| c.scene.detector.panel_shift_mm = Some([0.1, -0.2, 0.3])),
        case!(["-panel_rot"], "1 2 -3", |c| c.scene.detector.panel_rot_deg = Some([1.0, 2.0, -3.0])),
        case!(["-group_rot"], "0.5 0 -0.25", |c| c.scene.detector.group_rot_deg = Some([0.5, 0.0, -0.25])),
        case!(["-floatfile_f64"], "img64.bin", |c| c.scene.io.floatfile_f64 =
            p("img64.bin")),
        case!(["-default_scene"], "", |c| c.scene = nanobragg::Scene::builtin_default()),
        case!(["-wrt"], "cell_a,distance_mm", |c| c.wrt =
            vec!["cell_a".to_string(), "distance_mm".to_string()]),
        case!(["-loss"], "l2:t.bin", |c| c.loss = Some("l2:t.bin".to_string())),
        case!(["-target"], "m.img", |c| c.refine.target = p("m.img")),
        case!(["-refine"], "cell_a,scale", |c| c.refine.names =
            vec!["cell_a".to_string(), "scale".to_string()]),
        case!(["-refine_per_panel"], "panel_shift_x,panel_rot_o", |c| c.refine.per_panel =
            vec!["panel_shift_x".to_string(), "panel_rot_o".to_string()]),
        case!(["-refine_per_group"], "group_rot_o", |c| c.refine.per_group = vec!["group_rot_o".to_string()]),
        case!(["-background"], "bg.bin", |c| c.refine.background = p("bg.bin")),
        case!(["-optimizer"], "adam", |c| c.refine.optimizer = Some("adam".to_string())),
        case!(["-max_iter"], "50", |c| c.refine.max_iter = Some(50)),
        case!(["-refined_scene"], "r.toml", |c| c.refine.refined_scene = p("r.toml")),
        case!(["-refined_mat"], "r.mat", |c| c.refine.refined_mat = p("r.mat")),
    ]
}

/// Names whose case needs a file on disk and is tested separately.
const TESTED_ELSEWHERE: &[&str] = &["-scene"];

#[test]
fn every_flag_and_synonym_sets_its_field() {
    for case in cases() {
        for name in case.names {
            let line = format!("{name} {}", case.values);
            let mut want = CommandLine::default();
            (case.set)(&mut want);
            assert_eq!(ok(&line), want, "`{line}`");
        }
    }
}

#[test]
fn the_cases_cover_the_flag_table_exactly() {
    let table: std::collections::BTreeSet<&str> = flag_table()
        .iter()
        .flat_map(|s| s.names.iter().copied())
        .collect();
    let covered: std::collections::BTreeSet<&str> = cases()
        .iter()
        .flat_map(|c| c.names.iter().copied())
        .chain(TESTED_ELSEWHERE.iter().copied())
        .collect();
    let untested: Vec<_> = table.difference(&covered).collect();
    let unknown: Vec<_> = covered.difference(&table).collect();
    assert!(
        untested.is_empty(),
        "flags without a test case: {untested:?}"
    );
    assert!(
        unknown.is_empty(),
        "test cases for flags the table lacks: {unknown:?}"
    );
}

#[test]
fn usage_lists_every_flag_the_parser_accepts() {
    let text = usage();
    let words: std::collections::HashSet<&str> = text
        .split(|c: char| c.is_whitespace() || c == '|')
        .collect();
    for spec in flag_table() {
        for name in spec.names {
            assert!(
                words.contains(name),
                "{name} is accepted but not in the usage text"
            );
            assert!(parse(name).is_ok() || spec.arity != nanobragg_cli::Arity::Switch);
        }
    }
    for must in [
        "-hkl",
        "-mat",
        "-cell",
        "-pixel",
        "-detpixels",
        "-distance",
        "-lambda",
        "-energy",
        "-floatfile",
        "-intfile",
        "-noisefile",
        "-pgmfile",
        "-scale",
        "-adc",
        "-mosflm",
        "-xds",
        "-adxv",
        "-denzo",
        "-dials",
        "-roi",
        "-dtype",
        "-backend",
        "-scene",
        "-dump_scene",
        "-phi_carryover_mode",
        "-tile_pixels",
        "-engine",
        "-pngfile",
        "-png_log",
    ] {
        assert!(
            words.contains(must),
            "{must} missing from usage (AT-CLI-001)"
        );
    }
}

#[test]
fn defaults() {
    let c = ok("");
    assert_eq!(c, CommandLine::default());
    assert_eq!(c.scene, Scene::default());
    assert_eq!(c.dtype, DType::F64);
    assert_eq!(c.backend, "ndarray");
    assert_eq!(c.phi_carryover_mode, PhiCarryoverMode::Spec);
    assert!(!c.help && c.tile_pixels.is_none() && c.scene_file.is_none() && c.dump_scene.is_none());
    assert_eq!(c.engine, nanobragg::kernel::Engine::Auto);
}

// ------------------------------------------------------------------ order and C quirks

#[test]
fn later_flags_overwrite_earlier_ones() {
    assert_eq!(
        ok("-distance 100 -distance 200").scene.detector.distance_mm,
        Some(200.0)
    );
    assert_eq!(
        ok("-N 5 -Na 2").scene.crystal.n_cells,
        Some([2.0, 5.0, 5.0])
    );
    assert_eq!(ok("-Na 2 -N 5").scene.crystal.n_cells, Some([5.0; 3]));
    let c = ok("-divergence 2 -hdivrange 1");
    assert_eq!(
        (c.scene.beam.hdiv_range_mrad, c.scene.beam.vdiv_range_mrad),
        (Some(1.0), Some(2.0))
    );
    let c = ok("-detpixels_x 10 -detpixels 20");
    assert_eq!(
        (c.scene.detector.fpixels, c.scene.detector.spixels),
        (Some(20), Some(20))
    );
    let c = ok("-samplesize 0.1 -sample_y 0.2");
    assert_eq!(
        c.scene.crystal.sample_size_mm,
        [0.1, 0.2, 0.1]
    );
    assert_eq!(
        ok("-lambda 2 -energy 12398.42").scene.beam.wavelength_a,
        Some(1.0)
    );
    assert_eq!(
        ok("-energy 12398.42 -lambda 2").scene.beam.wavelength_a,
        Some(2.0)
    );
    assert_eq!(
        ok("-round_xtal -gauss_xtal").scene.crystal.shape,
        LatticeShape::Gauss
    );
    assert_eq!(ok("-progress -noprogress").scene.io.progress, Some(false));
    assert_eq!(ok("-dtype f32 -dtype F64").dtype, DType::F64);
}

#[test]
fn pivot_records_the_last_pivot_setting_flag() {
    let pivot = |l: &str| ok(l).scene.detector.pivot;
    assert_eq!(pivot("-Xbeam 1 -Xclose 2"), Some(Pivot::Sample));
    assert_eq!(pivot("-Xclose 2 -Xbeam 1"), Some(Pivot::Beam));
    assert_eq!(pivot("-xds -distance 100"), Some(Pivot::Beam));
    assert_eq!(pivot("-distance 100 -xds"), Some(Pivot::Sample));
    assert_eq!(pivot("-pivot sample -mosflm"), Some(Pivot::Beam));
    assert_eq!(pivot("-mosflm -pivot sample"), Some(Pivot::Sample));
    assert_eq!(pivot("-twotheta 5 -Ybeam 3"), Some(Pivot::Beam));
    assert_eq!(pivot("-Ybeam 3 -twotheta 5"), Some(Pivot::Sample));
    assert_eq!(pivot("-close_distance 90 -pivot BEAM"), Some(Pivot::Beam));
    assert_eq!(pivot("-ORGY 3 -dials"), Some(Pivot::Beam));
    assert_eq!(pivot("-cell 10 -N 3"), None);
}

#[test]
fn conventions_and_custom_vectors_in_order() {
    let conv = |l: &str| ok(l).scene.detector.convention;
    assert_eq!(conv("-fdet_vector 0 0 1 -mosflm"), Convention::Mosflm);
    assert_eq!(conv("-mosflm -fdet_vector 0 0 1"), Convention::Custom);
    assert_eq!(conv("-xds -pix0_vector 0 0 0"), Convention::Custom);
    assert_eq!(conv("-pix0_vector 0 0 0 -adxv"), Convention::Adxv);
    assert_eq!(conv(""), Convention::Mosflm);
}

#[test]
fn twotheta_axis_also_sets_twotheta_and_a_later_twotheta_wins() {
    let d = ok("-twotheta_axis -1 0 0").scene.detector;
    assert_eq!(d.twotheta_deg, Some(-1.0));
    assert_eq!(d.twotheta_axis, Some([-1.0, 0.0, 0.0]));
    assert_eq!(
        (d.pivot, d.convention),
        (Some(Pivot::Sample), Convention::Custom)
    );
    let d = ok("-twotheta_axis -1 0 0 -twotheta 20").scene.detector;
    assert_eq!(d.twotheta_deg, Some(20.0));
    let d = ok("-twotheta 20 -twotheta_axis 0 1 0").scene.detector;
    assert_eq!(d.twotheta_deg, Some(0.0));
    let d = ok("-twotheta_axis 0 1 0 -pivot beam").scene.detector;
    assert_eq!(d.pivot, Some(Pivot::Beam));
}

#[test]
fn misset_random_and_angles_override_each_other() {
    let c = ok("-misset random").scene.crystal;
    assert!(c.misset_random && c.misset_deg.is_none());
    let c = ok("-misset random -misset 1 2 3").scene.crystal;
    assert!(!c.misset_random && c.misset_deg == Some([1.0, 2.0, 3.0]));
    let c = ok("-misset 1 2 3 -misset rand").scene.crystal;
    assert!(c.misset_random && c.misset_deg.is_none());
    let c = ok("-misset random -misset_seed 12345").scene.crystal;
    assert!(c.misset_random && c.misset_seed == Some(12345));
    assert_eq!(
        ok("-misset -10 -20 -30").scene.crystal.misset_deg,
        Some([-10.0, -20.0, -30.0])
    );
}

#[test]
fn cell_takes_negative_numbers_stops_at_a_flag_and_keeps_unset_values() {
    assert_eq!(
        ok("-cell 50").scene.crystal.cell,
        Some([50.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    );
    let c = ok("-cell 50 60 -N 5").scene.crystal;
    assert_eq!(c.cell, Some([50.0, 60.0, 0.0, 0.0, 0.0, 0.0]));
    assert_eq!(c.n_cells, Some([5.0; 3]));
    // The C program stops at "-90" and drops it; here a number is a value (the resolver
    // then refuses the angle, see cli_errors.rs).
    assert_eq!(
        ok("-cell 100 100 100 90 -90 90").scene.crystal.cell,
        Some([100.0, 100.0, 100.0, 90.0, -90.0, 90.0])
    );
    assert_eq!(
        ok("-cell -100 100 100 90 90 90 -nopgm").scene.crystal.cell,
        Some([-100.0, 100.0, 100.0, 90.0, 90.0, 90.0])
    );
    // A second -cell overwrites only the values it gives.
    assert_eq!(
        ok("-cell 10 20 30 80 85 95 -cell 40").scene.crystal.cell,
        Some([40.0, 20.0, 30.0, 80.0, 85.0, 95.0])
    );
    // Seven numbers: the seventh is a stray argument.
    assert_eq!(
        parse("-cell 1 2 3 4 5 6 7"),
        Err(CliError::UnexpectedArgument("7".into()))
    );
}

#[test]
fn switches_re_enabled_by_later_flags() {
    let b = ok("-nopolar -polar 0.5").scene.beam;
    assert!(!b.nopolar && b.polarization_k == Some(0.5));
    assert!(ok("-polar 0.5 -nopolar").scene.beam.nopolar);
    assert!(!ok("-nopgm -pgmfile a.pgm").scene.io.nopgm);
    assert!(!ok("-nopgm -pgmscale 2").scene.io.nopgm);
    assert!(ok("-pgmfile a.pgm -nopgm").scene.io.nopgm);
    assert!(!ok("-nonoise -noisefile n.img").scene.io.nonoise);
    assert!(ok("-noisefile n.img -nonoise").scene.io.nonoise);
    assert_eq!(
        ok("-interpolate -nointerpolate")
            .scene
            .structure
            .interpolate,
        Some(false)
    );
    assert_eq!(
        ok("-square_div -round_div").scene.beam.round_div,
        Some(true)
    );
}

#[test]
fn detector_abs_inf_or_zero_disables() {
    let abs = |l: &str| ok(l).scene.detector.abs_depth_um;
    assert_eq!(abs("-detector_abs inf"), Some(f64::INFINITY));
    assert_eq!(abs("-detector_abs Infinity"), Some(f64::INFINITY));
    assert_eq!(abs("-detector_absorb +inf"), Some(f64::INFINITY));
    assert_eq!(abs("-detector_abs 0"), Some(0.0));
    assert_eq!(abs("-detector_abs 320.5"), Some(320.5));
    assert!(matches!(
        parse("-detector_abs none"),
        Err(CliError::InvalidNumber { .. })
    ));
}

#[test]
fn integer_flags_accept_a_zero_fraction_only() {
    assert_eq!(ok("-detpixels 64.0").scene.detector.fpixels, Some(64));
    assert_eq!(ok("-N 5.").scene.crystal.n_cells, Some([5.0; 3]));
    assert_eq!(ok("-seed -7").scene.io.seed, Some(-7));
    for line in [
        "-N 5.5",
        "-detpixels 1e3",
        "-seed x",
        "-roi 0 10 0 1.5",
        "-phisteps 2,5",
    ] {
        assert!(
            matches!(parse(line), Err(CliError::InvalidInteger { .. })),
            "{line}"
        );
    }
}

// ------------------------------------------------------------------ errors

/// The error of a command line that must not parse.
fn err(line: &str) -> CliError {
    parse(line).expect_err(line)
}

#[test]
fn unknown_flags_are_named() {
    assert_eq!(err("-foo").to_string(), "unknown flag '-foo'");
    assert_eq!(
        err("-distance 100 -foo 3").to_string(),
        "unknown flag '-foo'"
    );
    // Spellings the spec names as unsupported, and the flag the C program comments out.
    for line in [
        "-dispstep 3",
        "-hdiv 1",
        "-vdiv 1",
        "-source_distance 10",
        "-detector_thickstep 2",
    ] {
        assert!(matches!(err(line), CliError::UnknownFlag(_)), "{line}");
    }
}

#[test]
fn missing_values_name_the_flag() {
    for line in [
        "-distance",
        "-distance -nopgm",
        "-misset 1 2",
        "-roi 1 2 3",
        "-cell",
        "-cell -N 5",
        "-fdet_vector 0 1",
        "-floatfile -intfile x.img",
        "-trace_pixel 1",
    ] {
        let e = err(line);
        assert!(matches!(e, CliError::MissingValue { .. }), "{line}: {e:?}");
        assert!(
            e.to_string()
                .contains(line.split_whitespace().next().unwrap()),
            "{e}"
        );
    }
}

#[test]
fn invalid_numbers_name_the_flag_and_the_value() {
    let e = err("-distance abc");
    assert_eq!(
        e,
        CliError::InvalidNumber {
            flag: "-distance".into(),
            value: "abc".into()
        }
    );
    assert_eq!(e.to_string(), "flag '-distance': 'abc' is not a number");
    for line in [
        "-lambda nan",
        "-lambda inf",
        "-pixel 1e999",
        "-misset 1 x 3",
        "-cell 10 x",
    ] {
        assert!(
            matches!(err(line), CliError::InvalidNumber { .. }),
            "{line}"
        );
    }
}

#[test]
fn stray_arguments_are_unexpected() {
    assert!(matches!(err("P1.hkl"), CliError::UnexpectedArgument(_)));
    assert!(matches!(
        err("-hkl P1.hkl extra"),
        CliError::UnexpectedArgument(_)
    ));
    assert!(matches!(err("-nopgm 5"), CliError::UnexpectedArgument(_)));
}

#[test]
fn invalid_values_name_the_flag() {
    for args in [
        ["-pivot", "middle"],
        ["-dtype", "f16"],
        ["-phi_carryover_mode", "cached"],
        ["-noise_rng", "ran1"],
        ["-noise_rng", ""],
        ["-energy", "0"],
        ["-energy", "-5"],
        ["-tile_pixels", "0"],
        ["-tile_pixels", "-4"],
        ["-floatfile", ""],
        ["-backend", ""],
    ] {
        let e = parse_args(args.map(String::from)).expect_err(&args.join(" "));
        assert!(
            matches!(e, CliError::InvalidValue { .. }),
            "{args:?}: {e:?}"
        );
        assert!(
            e.to_string().starts_with(&format!("flag '{}'", args[0])),
            "{e}"
        );
    }
    let e = err("-scene /nonexistent/dir/scene.toml");
    assert!(matches!(e, CliError::SceneRead { .. }), "{e:?}");
    assert!(e.to_string().starts_with("flag '-scene'"), "{e}");
}

#[test]
fn error_messages_are_one_line() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let bad = dir.join("bad_scene.toml");
    std::fs::write(
        &bad,
        "[detector]\nno_such_field = 3\n\nnot toml at all [[[\n",
    )
    .unwrap();
    let e = parse_args(["-scene".to_string(), bad.display().to_string()]).unwrap_err();
    assert!(matches!(e, CliError::SceneParse { .. }), "{e:?}");
    for line in [
        "-foo",
        "-distance",
        "-distance x",
        "-N 1.5",
        "-pivot x",
        "stray",
    ] {
        let msg = parse(line).unwrap_err().to_string();
        assert!(!msg.contains('\n'), "{msg}");
    }
    assert!(!e.to_string().contains('\n'), "{e}");
}

// ------------------------------------------------------------------ golden corpus

fn golden_dir() -> PathBuf {
    match std::env::var_os("NANOBRAGG_GOLDEN") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/golden"),
    }
}

#[test]
fn every_golden_args_line_parses() {
    let cases = golden_dir().join("cases");
    let entries = std::fs::read_dir(&cases).unwrap_or_else(|e| {
        panic!(
            "golden corpus missing at {} ({e}); set NANOBRAGG_GOLDEN",
            cases.display()
        )
    });
    let mut n = 0;
    for entry in entries {
        let args = entry.unwrap().path().join("args.txt");
        if !args.exists() {
            continue;
        }
        let text = std::fs::read_to_string(&args).unwrap();
        let parsed = parse(&text);
        assert!(
            parsed.is_ok(),
            "{}: {:?}\n{text}",
            args.display(),
            parsed.unwrap_err()
        );
        n += 1;
    }
    assert!(n > 0, "no args.txt under {}", cases.display());
}

#[test]
fn golden_style_line_fills_the_expected_fields() {
    let c = ok(
        "-default_F 100 -cell 100 100 100 90 90 90 -lambda 1.0 -N 5 -detpixels 256 \
        -pixel 0.1 -distance 100 -mosflm -phi 0 -osc 0 -mosaic 0 -oversample 1 -misset random \
        -misset_seed 12345 -floatfile float.bin -nonoise -nopgm",
    );
    let s = &c.scene;
    assert_eq!(
        s.crystal.cell,
        Some([100.0, 100.0, 100.0, 90.0, 90.0, 90.0])
    );
    assert!(s.crystal.misset_random);
    assert_eq!(s.crystal.misset_seed, Some(12345));
    assert_eq!(s.detector.pivot, Some(Pivot::Beam));
    assert_eq!(s.io.floatfile, p("float.bin"));
    assert!(s.io.nonoise && s.io.nopgm);
}

// ------------------------------------------------------------------ scene files

const RICH: &str = "-hkl P1.hkl -mat A.mat -cell 70 80 90 91 92 93 -misset 1 2 3 -misset_seed 9 \
    -Na 3 -Nb 4 -Nc 5 -samplesize 0.02 -sample_x 0.01 -round_xtal -fudge 0.8 -mosaic 0.2 \
    -mosaic_dom 7 -mosaic_seed 11 -lambda 1.3 -dispersion 0.1 -dispsteps 3 -hdivrange 0.2 \
    -vdivrange 0.3 -hdivstep 0.05 -vdivstep 0.06 -hdivsteps 4 -vdivsteps 5 -square_div \
    -sourcefile s.txt -polar 0.8 -nopolar -fluence 1e24 -flux 1e12 -exposure 2 -beamsize 0.1 \
    -pixel 0.172 -detpixels_f 100 -detpixels_s 120 -detsize_f 17.2 -detsize_s 20.64 \
    -distance 150 -close_distance 149 -Xbeam 8 -Ybeam 9 -Xclose 7 -Yclose 6 -ORGX 50 -ORGY 60 \
    -detector_rotx 1 -detector_roty 2 -detector_rotz 3 -twotheta_axis 0 0 -1 -twotheta 15 \
    -fdet_vector 0 0 1 -sdet_vector 0 -1 0 -odet_vector 1 0 0 -beam_vector 1 0 0 \
    -polar_vector 0 0 1 -spindle_axis 0 0 1 -pix0_vector 0.1 0.01 -0.01 -curved_det \
    -point_pixel -detector_abs inf -detector_thick 450 -thicksteps 3 -default_F 10 \
    -interpolate -oversample 2 -oversample_thick -oversample_polar -oversample_omega \
    -roi 0 50 10 60 -dmin 1.5 -water 20 -phi 5 -osc 1 -phistep 0.25 -phisteps 4 -img h.img \
    -mask m.img -floatfile f.bin -intfile i.img -noisefile n.img -pgmfile g.pgm -pngfile p.png \
    -png_log -pgmscale 2 -scale 3 -adc 30 -nonoise -nopgm -seed 5 -trace_pixel 1 2 \
    -printout_pixel 3 4 -noprogress -stol sq.txt -stolout so.txt -pivot sample";

#[test]
fn scene_toml_round_trip() {
    let scene = ok(RICH).scene;
    let text = scene.to_toml_string().expect("serialise scene");
    let back = Scene::from_toml_str(&text).expect("parse scene");
    assert_eq!(back, scene, "{text}");
}

#[test]
fn scene_file_is_loaded_first_and_flags_apply_on_top() {
    let scene = ok(RICH).scene;
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli_rich_scene.toml");
    std::fs::write(&path, scene.to_toml_string().unwrap()).unwrap();
    let file = path.display().to_string();

    let c = ok(&format!("-scene {file}"));
    assert_eq!(c.scene, scene);
    assert_eq!(c.scene_file, Some(path.clone()));

    // Flags before and after -scene both apply on top of the file.
    let c = ok(&format!(
        "-distance 300 -scene {file} -lambda 2 -cell 40 -dump_scene o.toml"
    ));
    let mut want = scene.clone();
    want.detector.distance_mm = Some(300.0);
    want.detector.pivot = Some(Pivot::Beam);
    want.beam.wavelength_a = Some(2.0);
    want.crystal.cell = Some([40.0, 80.0, 90.0, 91.0, 92.0, 93.0]);
    assert_eq!(c.scene, want);
    assert_eq!(c.dump_scene, p("o.toml"));
}
