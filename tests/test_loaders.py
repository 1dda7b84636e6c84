"""Real-file loaders: GTEx v8 (eQTL BED, GCT of counts or TPM, sample and phenotype tables) and UCSC Xena TCGA,
round trips through files written from the embedded cohort, TMM against edgeR, and the messy inputs."""

import gzip
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gaingtex.cli import main
from gaingtex.data.export import write_gtex_files, write_xena_files
from gaingtex.data.gct import LoadWarning, read_gct, write_gct
from gaingtex.data.gene_ids import map_genes, strip_version
from gaingtex.data.gtex import read_gtex
from gaingtex.data import gct
from gaingtex.data.normalise import (average_ranks, expressed, inverse_normal, normalise_tissue, tmm_cpm,
                                     tmm_factors)
from gaingtex.data.xena import read_xena

FIXTURES = Path(__file__).parent / "fixtures"
NORMALISE = FIXTURES / "gct-normalise"  # made by fixtures/make_gct_normalise.py


@pytest.fixture(scope="module")
def gtex(smoke):
    return smoke[smoke.obs["cohort"] == "GTEx"].copy()


@pytest.fixture(scope="module")
def files(gtex, tmp_path_factory):
    """GTEx-format files of the smoke cohort: eQTL BED files with the paper's sample table, a GCT of counts with
    the Portal's sample attributes, a GCT of TPM."""
    base = tmp_path_factory.mktemp("gtex-files")
    return {kind: write_gtex_files(gtex, base / kind, kind, samples)
            for kind, samples in (("bed", "paper"), ("counts", "portal"), ("tpm", "paper"))}


def load(f, **kwargs):
    expression = f["expression"] if isinstance(f["expression"], list) else [f["expression"]]
    return read_gtex(expression, f["samples"], f["phenotypes"], min_samples=kwargs.pop("min_samples", 2), **kwargs)


def rank_agreement(loaded, original) -> float:
    """Median Spearman correlation, per gene within tissue, between a loaded cohort and the original values."""
    samples, genes = loaded.obs_names.intersection(original.obs_names), loaded.var_names
    x, y = loaded[samples, genes].X, original[samples, genes].X
    tissue = loaded[samples].obs["tissue"].astype(str).to_numpy()
    rs = [stats.spearmanr(x[tissue == t, j], y[tissue == t, j])[0]
          for t in np.unique(tissue) for j in range(0, len(genes), 10)]
    return float(np.median(rs))


# --- round trips ------------------------------------------------------------------------------------------------

def test_bed_round_trip_is_exact(files, gtex):
    cohort = load(files["bed"])
    assert cohort.uns["gaingtex"]["normalize"] == "none"
    assert set(cohort.obs_names) == set(gtex.obs_names) and list(cohort.var_names) == list(gtex.var_names)
    original = gtex[cohort.obs_names]
    np.testing.assert_allclose(cohort.X, original.X, atol=1e-5)
    assert (cohort.obs["tissue"].astype(str) == original.obs["tissue"].astype(str)).all()
    assert (cohort.obs["sex"].astype(str) == original.obs["sex"].astype(str)).all()
    assert (cohort.obs["hardy"].astype(str) == original.obs["hardy"].astype(str)).all()
    assert (cohort.obs["age_bracket"].astype(str) == original.obs["age_bracket"].astype(str)).all()
    low = original.obs["age_bracket"].astype(str).str[:2].astype(int)
    np.testing.assert_array_equal(cohort.obs["age"], low + 4.5)  # the middle of each bracket
    assert (cohort.var["ensembl_id"] == gtex.var["ensembl_id"]).all()
    assert any("ten-year brackets" in line for line in cohort.uns["gaingtex"]["report"])


def test_counts_gct_round_trip_up_to_normalisation(files, gtex):
    cohort = load(files["counts"])
    assert cohort.uns["gaingtex"]["normalize"] == "tmm-int"
    tmm = rank_agreement(cohort, gtex)
    no_tmm = rank_agreement(load(files["counts"], normalise="int"), gtex)
    assert tmm > 0.9
    assert tmm > no_tmm + 0.1  # the library sizes the file was written with are what TMM removes
    for t in ("Whole_Blood", "Lung"):  # inverse-normal per tissue: mean 0, Φ⁻¹ of ranks
        x = cohort[cohort.obs["tissue"] == t].X
        n = len(x)
        np.testing.assert_allclose(np.sort(x[:, 0]), stats.norm.ppf(np.arange(1, n + 1) / (n + 1)), atol=1e-5)


def test_tpm_gct_with_int(files, gtex):
    cohort = load(files["tpm"], normalise="int")
    assert rank_agreement(cohort, gtex) > 0.85
    with pytest.raises(ValueError, match="needs read counts.*--normalise int"):
        load(files["tpm"], normalise="tmm-int")


def test_tmm_matches_edger():
    from rnanorm.datasets import load_gtex

    expected = pd.read_csv(FIXTURES / "edger_tmm_gtex_lung30.tsv", sep="\t", comment="#", index_col=0)
    counts = load_gtex().exp
    factors = tmm_factors(counts.loc[expected.index].to_numpy())
    np.testing.assert_allclose(factors, expected["norm_factor"].to_numpy(), rtol=1e-10)


def test_inverse_normal_and_thresholds():
    x = np.array([[3.0, 5.0], [1.0, np.nan], [2.0, 5.0], [2.0, 1.0]])
    out = inverse_normal(x)
    np.testing.assert_allclose(out[:, 0], stats.norm.ppf(np.array([4, 1, 2.5, 2.5]) / 5), atol=1e-6)
    np.testing.assert_allclose(out[[0, 2, 3], 1], stats.norm.ppf(np.array([2.5, 2.5, 1]) / 4), atol=1e-6)
    assert np.isnan(out[1, 1])
    counts = np.array([[10, 0, 6], [0, 0, 7], [0, 1, 0], [0, 0, 0], [0, 0, 0]], dtype=float)
    np.testing.assert_array_equal(expressed(counts), [True, False, True])  # ≥ 6 reads in ≥ 20 % of 5 samples
    norm, keep = normalise_tissue(counts[:, [0, 2]] + 1, "none")
    assert keep.all() and norm.shape == (5, 2)


def test_gct_is_streamed_in_chunks(tmp_path, gtex):
    ids = [f"{e}.3" for e in gtex.var["ensembl_id"]]
    values = np.round(np.exp(gtex.X[:40].T))
    path = write_gct(tmp_path / "x.gct.gz", ids, gtex.var_names, gtex.obs_names[:40], values, fmt="%d")
    whole = read_gct(path)
    chunked = read_gct(path, samples=list(gtex.obs_names[[5, 2]]), chunk_rows=7,
                       keep_rows=lambda names: np.char.startswith(names.astype(str), "ENSG000001"))
    assert whole.values.dtype == np.float32 and whole.values.shape == (gtex.n_vars, 40)
    rows = np.char.startswith(np.array(ids), "ENSG000001")
    assert chunked.samples == list(gtex.obs_names[[2, 5]])  # file order
    np.testing.assert_array_equal(chunked.values, whole.values[rows][:, [2, 5]])


def test_gct_pieces_line_ends_and_empty_cells(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    values = rng.poisson(4.0, size=(57, 23)).astype(np.float32)
    values[3, 4] = np.nan
    ids = [f"ENSG{i:011d}.2" for i in range(57)]
    plain = write_gct(tmp_path / "x.gct", ids, [f"g{i}" for i in range(57)], [f"s{j}" for j in range(23)], values,
                      fmt="%d")
    crlf = tmp_path / "crlf.gct"  # Windows line ends, and no line end after the last row
    crlf.write_bytes(plain.read_bytes().replace(b"\n", b"\r\n").rstrip(b"\r\n"))
    monkeypatch.setattr(gct, "PIECE_BYTES", 500)  # many pieces, each cut at a line end
    for path in (plain, crlf):
        table = read_gct(path)
        np.testing.assert_array_equal(table.values, values)
        assert table.values.T.flags.c_contiguous and list(table.ids) == ids
    kept = read_gct(crlf, samples=["s9", "s2"], keep_rows=lambda names: np.array([int(n[4:15]) % 3 == 0
                                                                                 for n in names], dtype=bool))
    np.testing.assert_array_equal(kept.values, values[:, [2, 9]][np.arange(57) % 3 == 0])


def test_tmm_matches_rnanorm_on_ties_and_zeros():
    from rnanorm import TMM

    rng = np.random.default_rng(3)
    for n, genes in ((30, 500), (7, 40), (120, 2000)):
        counts = rng.poisson(rng.lognormal(1.0, 2.0, genes)[None, :] * rng.uniform(0.3, 3.0, n)[:, None])
        counts = counts.astype(float)
        counts[:, :5] = 0  # genes with no read at all
        counts[0, 10:30] = 0
        expected = TMM().fit(counts).get_norm_factors(counts)
        np.testing.assert_allclose(tmm_factors(counts.astype(np.float32)), expected, rtol=1e-12)
        np.testing.assert_allclose(tmm_cpm(counts), TMM().fit_transform(counts), rtol=1e-12)


def test_tmm_trimming_by_mean_rank_with_ties():
    """TMM's trimming, found from two cut points and their tie groups, as ranking every finite number does."""
    from gaingtex.data.normalise import _within_trim

    rng = np.random.default_rng(8)
    for _ in range(300):
        values = rng.integers(0, rng.integers(1, 6), size=(rng.integers(1, 6), rng.integers(1, 30))).astype(float)
        values[rng.random(values.shape) < rng.random() * 0.5] = -np.inf  # a zero count: no M or A value
        n = np.isfinite(values).sum(axis=1)
        for trim in (0.3, 0.05):
            expected = np.zeros(values.shape, dtype=bool)
            for i, row in enumerate(values):
                seen = np.isfinite(row)
                if seen.any():
                    low = np.floor(n[i] * trim) + 1
                    rank = stats.rankdata(row[seen])
                    expected[i, seen] = (rank >= low) & (rank <= n[i] - low + 1)
            np.testing.assert_array_equal(_within_trim(values, n, trim), expected)


@pytest.mark.parametrize("cells", [1, 7, 64, 1 << 18])
def test_compacting_the_matrix_in_its_own_memory(monkeypatch, cells):
    """The loader's matrix, cut to the kept samples and genes within its own memory, a block of rows at a time."""
    from gaingtex.data import gtex

    monkeypatch.setattr(gtex, "COMPACT_CELLS", cells)
    rng = np.random.default_rng(9)
    for _ in range(20):
        values = rng.random((rng.integers(1, 40), rng.integers(1, 12))).astype(np.float32)
        rows = np.flatnonzero(rng.random(len(values)) < 0.7)
        genes = np.flatnonzero(rng.random(values.shape[1]) < 0.6)
        expected = values[np.ix_(rows, genes)]
        np.testing.assert_array_equal(gtex._compact(values.copy(), rows, genes), expected)


def test_ranks_and_inverse_normal_match_scipy():
    rng = np.random.default_rng(4)
    x = rng.poisson(3.0, size=(97, 60)).astype(float)  # ties everywhere
    x[rng.random(x.shape) < 0.05] = np.nan
    ranks = average_ranks(x.T)
    seen = ~np.isnan(x.T)
    np.testing.assert_array_equal(ranks[seen], stats.rankdata(x.T, axis=1, nan_policy="omit")[seen])
    expected = np.full(x.shape, np.nan)
    for j in range(x.shape[1]):
        ok = ~np.isnan(x[:, j])
        expected[ok, j] = stats.norm.ppf(stats.rankdata(x[ok, j]) / (ok.sum() + 1))
    np.testing.assert_array_equal(inverse_normal(x), expected.astype(np.float32))


def test_inverse_normal_in_place_matches_per_gene():
    """The in-place transform of a tissue's rows (of counts per million, or with a hole) as inverse_normal's."""
    from gaingtex.data.gtex import _inverse_normal_into

    rng = np.random.default_rng(5)
    values = rng.poisson(2.0, size=(40, 300)).astype(np.float32)  # ties everywhere
    rows = np.flatnonzero(rng.random(40) < 0.6)
    library = rng.uniform(1e3, 1e4, len(rows))
    for lib in (library, None):
        out = values.copy()
        if lib is None:
            out[rows[1], 7] = np.nan
        expected = inverse_normal(out[rows] if lib is None else out[rows] / lib[:, np.newaxis] * 1e6)
        _inverse_normal_into(out, rows, lib)
        np.testing.assert_array_equal(out[rows], expected)
        np.testing.assert_array_equal(np.delete(out, rows, axis=0), np.delete(values, rows, axis=0))


@pytest.mark.parametrize("case", ["reads-tmm-int", "reads-int", "tpm-int", "tpm-none"])
def test_loader_matches_the_one_it_replaced(case):
    """The pyarrow reader and the vectorised normalisation against the values of the pandas and per-sample
    ``rnanorm`` loader they replaced, on inputs with ties, zeros, genes below the thresholds, empty cells, several
    tissues and one too small to keep."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_gct_normalise", FIXTURES / "make_gct_normalise.py")
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    expected = np.load(NORMALISE / "expected.npz")
    cohort = make.load(NORMALISE, case)
    assert list(cohort.obs_names) == list(expected[f"{case}/obs"])
    assert list(cohort.var_names) == list(expected[f"{case}/var"])
    np.testing.assert_allclose(cohort.X, expected[f"{case}/X"], rtol=0, atol=1e-6)


def test_gene_ids():
    stem, par = strip_version(["ENSG00000227232.5", "ENSG00000182378.14_PAR_Y", "ENSG00000182378.14"])
    assert list(stem) == ["ENSG00000227232", "ENSG00000182378", "ENSG00000182378"] and list(par) == [0, 1, 0]
    with pytest.raises(ValueError, match="'ERCC-00002'.*not an Ensembl gene id"):
        strip_version(["ENSG00000227232.5", "ERCC-00002"])
    with pytest.raises(ValueError, match="appears with two versions"):
        map_genes(["ENSG00000141510.16", "ENSG00000141510.17"])
    # TP53 and A1BG are protein-coding; ENSG00000227232 (WASH7P) is not; the last row claims A1BG's symbol
    ids = ["ENSG00000141510.16", "ENSG00000227232.5", "ENSG00000121410.11", "ENSG00000999999.1"]
    coding = map_genes(ids, ["TP53", "WASH7P", "A1BG", "A1BG"])
    assert list(coding.var.index) == ["TP53", "A1BG"]
    assert any("not in the shipped protein-coding table" in d for d in coding.decisions)
    every = map_genes(ids, ["TP53", "WASH7P", "A1BG", "A1BG"], genes="all")
    assert list(every.var.index) == ["TP53", "WASH7P", "A1BG", "A1BG_ENSG00000999999"]
    assert any("shared a symbol" in d for d in every.decisions)
    some = map_genes(ids, genes=["TP53", "ENSG00000121410", "NOTAGENE"])
    assert list(some.var.index) == ["TP53", "A1BG"] and any("NOTAGENE" in d for d in some.decisions)
    with pytest.raises(ValueError, match="none of the 1 requested genes"):
        map_genes(ids, genes=["NOTAGENE"])


def test_xena_takes_no_second_log(smoke, gtex, tmp_path):
    brca = smoke[smoke.obs["cohort"] == "BRCA-like"]
    f = write_xena_files(brca, tmp_path, "BRCA")
    written = pd.read_csv(f["expression"], sep="\t", index_col=0)
    reference = gtex[:, 5:].copy()  # the reference lacks nothing; drop a gene from the file below
    cohort = read_xena(f["expression"], f["clinical"], reference)
    primary = [b for b in written.columns if b.endswith("-01A")]
    assert list(cohort.obs_names) == primary and len(primary) < written.shape[1]
    assert (cohort.obs["cohort"] == "BRCA").all() and (cohort.obs["tissue"] == "Breast_Mammary_Tissue").all()
    assert (cohort.obs["split"] == "external").all()
    back = cohort.X * cohort.var["xena_sd"].to_numpy() + cohort.var["xena_mean"].to_numpy()
    values = written.loc[[f"{e}.1" for e in reference.var["ensembl_id"]], primary].to_numpy().T
    np.testing.assert_allclose(back, values, atol=1e-4)  # standardised log2(FPKM + 1), not log of it
    np.testing.assert_allclose(np.nanmean(cohort.X, axis=0), 0, atol=1e-5)
    sexes = brca.obs["sex"].astype(str).to_numpy()[[written.columns.get_loc(b) for b in primary]]
    assert (cohort.obs["sex"].astype(str).to_numpy() == sexes).all()
    # a gene the file lacks is NaN, reported, never zero
    written.drop(index=f"{reference.var['ensembl_id'].iloc[0]}.1").to_csv(tmp_path / "TCGA-BRCA.htseq_fpkm.tsv",
                                                                        sep="\t")
    cohort = read_xena(tmp_path / "TCGA-BRCA.htseq_fpkm.tsv", f["clinical"], reference)
    assert np.isnan(cohort.X[:, 0]).all() and not np.isnan(cohort.X[:, 1:]).any()
    assert any("are not in" in line for line in cohort.uns["gaingtex"]["report"])


# --- messy and bad inputs ------------------------------------------------------------------------------------------

def edit(path: Path, out: Path, change) -> Path:
    """A copy of a (gzipped or plain) text file with ``change(lines)`` applied."""
    with (gzip.open if Path(path).suffix == ".gz" else open)(path, "rt") as handle:
        lines = handle.read().splitlines()
    out.parent.mkdir(parents=True, exist_ok=True)
    with (gzip.open if out.suffix == ".gz" else open)(out, "wt") as handle:
        handle.write("\n".join(change(lines)) + "\n")
    return out


def with_expression(f, path):
    return {**f, "expression": path}


def test_gct_shape_line_disagreeing_is_a_warning(files, tmp_path):
    gct = edit(files["counts"]["expression"], tmp_path / "sub.gct", lambda L: [L[0], "56200\t17382", *L[2:]])
    with pytest.warns(LoadWarning, match=r"declares 56200 genes but the table has 300") as caught:
        load(with_expression(files["counts"], gct))
    assert any("declares 17382 sample columns but the table has 641" in str(w.message) for w in caught)


@pytest.mark.parametrize("change, message", [
    (lambda L: L[:3] + [L[3]] + L[3:], "appears more than once"),                       # duplicate gene id
    (lambda L: L[:3] + [L[3].replace("\t", "\tx", 1).rsplit("\t", 1)[0] + "\tlots"] + L[4:], "holds 'lots'"),
    (lambda L: ["#1.3", *L[1:]], "starts with '#1.2'"),
    (lambda L: [L[0], L[1], L[2] + "\t" + L[2].split("\t")[2], *L[3:]], "sample column .* more than once"),
    (lambda L: [L[0], L[1], "Id\tDescription" + L[2][len("Name\tDescription"):], *L[3:]], "expected \\['Name'"),
])
def test_bad_gct(files, tmp_path, change, message):
    gct = edit(files["counts"]["expression"], tmp_path / "bad.gct", change)
    with pytest.raises(ValueError, match=message):
        load(with_expression(files["counts"], gct))


def test_truncated_and_missing_files(files, tmp_path):
    raw = Path(files["counts"]["expression"]).read_bytes()
    cut = tmp_path / "cut.gct.gz"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="cut.gct.gz"):
        load(with_expression(files["counts"], cut))
    for at in (len(raw) // 3, len(raw) - 6):  # within the compressed stream, and in its checksum
        flipped = bytearray(raw)
        flipped[at:at + 4] = bytes(b ^ 0xFF for b in flipped[at:at + 4])
        bad = tmp_path / f"flipped{at}.gct.gz"
        bad.write_bytes(bytes(flipped))
        with pytest.raises(ValueError, match=f"flipped{at}.gct.gz: .*(truncated or damaged|cannot be read)"):
            load(with_expression(files["counts"], bad))
    with pytest.raises(FileNotFoundError, match="nowhere.gct"):
        load(with_expression(files["counts"], tmp_path / "nowhere.gct"))


def test_bad_bed_files(files, tmp_path):
    beds = files["bed"]["expression"]
    odd = tmp_path / "Brain_Cortext.v8.normalized_expression.bed.gz"
    shutil.copy(beds[0], odd)
    with pytest.raises(ValueError, match="'Brain_Cortext', which is not a GTEx v8 tissue id"):
        load({**files["bed"], "expression": [*beds, odd]})
    with pytest.raises(ValueError, match="already normalised"):
        load(files["bed"], normalise="tmm-int")
    with pytest.raises(ValueError, match="mixes eQTL BED files"):
        load({**files["bed"], "expression": [beds[0], files["counts"]["expression"]]})
    word = edit(beds[0], tmp_path / "word" / beds[0].name, lambda L: [L[0], L[1].rsplit("\t", 1)[0] + "\tabc", *L[2:]])
    with pytest.raises(ValueError, match="gene ENSG\\d+\\.1, donor GTEX-\\w+ holds 'abc'; expected a number"):
        load({**files["bed"], "expression": [word, *beds[1:]]})
    lost = edit(beds[0], tmp_path / "one" / beds[0].name, lambda L: [L[0], *L[2:]])  # a gene lacking in one tissue
    cohort = load({**files["bed"], "expression": [lost, *beds[1:]]})
    assert cohort.n_vars == 299 and any("present in every one" in line for line in cohort.uns["gaingtex"]["report"])


def test_bad_tables(files, tmp_path):
    f = files["counts"]
    table = pd.read_csv(f["samples"], sep="\t", dtype=str, keep_default_na=False)
    table.loc[table["SMTSD"] == "Lung", "SMTSD"] = "Lungs"
    table.to_csv(bad_tissue := tmp_path / "s.txt", sep="\t", index=False)
    with pytest.raises(ValueError, match="'SMTSD' holds 'Lungs'"):
        load({**f, "samples": bad_tissue})
    with pytest.raises(ValueError, match="SAMPID, SMTSD .* or sample_id"):
        load({**f, "samples": edit(f["samples"], tmp_path / "s2.txt", lambda L: [L[0].replace("SAMPID", "ID"),
                                                                                 *L[1:]])})
    phen = Path(f["phenotypes"])
    cases = [(lambda L: [L[0].replace("DTHHRDY", "HARDY"), *L[1:]], "no 'DTHHRDY' column"),
             (lambda L: [L[0], L[1].replace("\t1\t", "\t3\t").replace("\t2\t", "\t3\t"), *L[2:]], "SEX '3'"),
             (lambda L: [L[0], "\t".join(L[1].split("\t")[:2] + ["80-89"] + L[1].split("\t")[3:]), *L[2:]],
              "AGE '80-89'"),
             (lambda L: [L[0], "\t".join(L[1].split("\t")[:3] + ["maybe"]), *L[2:]], "DTHHRDY 'maybe'"),
             (lambda L: [*L, L[1]], "appears more than once")]
    for i, (change, message) in enumerate(cases):
        with pytest.raises(ValueError, match=message):
            load({**f, "phenotypes": edit(phen, tmp_path / f"p{i}.txt", change)})
    fewer = load({**f, "phenotypes": edit(phen, tmp_path / "few.txt", lambda L: L[:-1])})  # one donor lacks a row
    assert any("whose donor is not in the phenotype table" in line for line in fewer.uns["gaingtex"]["report"])


def test_bad_selections(files):
    with pytest.raises(ValueError, match="'Lungs', which is not a GTEx v8 tissue id"):
        load(files["bed"], tissues="Lung,Lungs")
    with pytest.raises(ValueError, match="tissue Bladder of --tissues has no sample"):
        load(files["bed"], tissues="Lung,Bladder")
    with pytest.raises(ValueError, match="--genotyped-only needs the v8 paper's sample table"):
        load(files["counts"], genotyped_only=True)
    with pytest.raises(ValueError, match="no tissue has 1000 or more samples"):
        load(files["bed"], min_samples=1000)
    small = load(files["bed"], tissues="Lung,Whole_Blood,Liver", min_samples=10)
    assert set(small.obs["tissue"].astype(str)) <= {"Lung", "Whole_Blood", "Liver"}
    assert any("fewer than 10 samples" in line for line in small.uns["gaingtex"]["report"])


def test_bad_xena(smoke, gtex, tmp_path):
    f = write_xena_files(smoke[smoke.obs["cohort"] == "LAML-like"], tmp_path, "LAML")
    frame = pd.read_csv(f["expression"], sep="\t", index_col=0)
    raw = tmp_path / "TCGA-LAML.raw.tsv"
    (2.0 ** frame - 1.0).mul(1e3).to_csv(raw, sep="\t")  # FPKM itself, not its log
    with pytest.raises(ValueError, match="expected log2\\(FPKM \\+ 1\\)"):
        read_xena(raw, f["clinical"], gtex)
    frame.rename(columns={frame.columns[0]: "sample-1"}).to_csv(tmp_path / "TCGA-LAML.b.tsv", sep="\t")
    with pytest.raises(ValueError, match="'sample-1' is not a TCGA sample barcode"):
        read_xena(tmp_path / "TCGA-LAML.b.tsv", f["clinical"], gtex)
    clinical = pd.read_csv(f["clinical"], sep="\t").drop(columns="gender")
    clinical.to_csv(tmp_path / "c", sep="\t", index=False)
    with pytest.raises(ValueError, match="no 'gender' column"):
        read_xena(f["expression"], tmp_path / "c", gtex)
    with pytest.raises(ValueError, match="no GTEx tissue is known for TCGA-KIRC"):
        read_xena(f["expression"], f["clinical"], gtex, code="KIRC")
    old = pd.read_csv(f["clinical"], sep="\t")
    old["age_at_initial_pathologic_diagnosis"] = 88
    old.to_csv(tmp_path / "old", sep="\t", index=False)
    cohort = read_xena(f["expression"], tmp_path / "old", gtex)
    assert (cohort.obs["age"] == 88).all() and any("outside GTEx's 20–79" in line
                                                    for line in cohort.uns["gaingtex"]["report"])


def test_cli_gtex_and_xena(files, smoke, tmp_path, capsys):
    f = files["bed"]
    out = tmp_path / "c.h5ad"
    args = ["gtex", "--expression", *map(str, f["expression"]), "--samples", str(f["samples"]),
            "--phenotypes", str(f["phenotypes"]), "--min-samples", "2"]
    assert main([*args, "--out", str(out)]) == 0
    assert "note: " in capsys.readouterr().out and out.is_file()
    assert main([*args, "--out", str(f["samples"])]) == 2  # never over an input
    assert "is one of the command's inputs" in capsys.readouterr().err
    x = write_xena_files(smoke[smoke.obs["cohort"] == "LUAD-like"], tmp_path, "LUAD")
    assert main(["xena", "--expression", str(x["expression"]), "--clinical", str(x["clinical"]), "--genes-like",
                 str(out), "--out", str(tmp_path / "t.h5ad")]) == 0
    assert "TCGA-LUAD samples (as Lung)" in capsys.readouterr().out
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["xena", "--expression", str(x["expression"]), "--clinical", str(x["clinical"]),
                     "--genes-like", str(tmp_path / "none.h5ad"), "--out", str(tmp_path / "u.h5ad")]) == 2
    assert "none.h5ad does not exist" in capsys.readouterr().err
