"""The bad-input catalogue: one CLI invocation per case, the fragment its one-line error must contain.

tests/test_bad_input.py runs every case (exit 2, one line on stderr starting with `error:`, no traceback, the
fragment present, nothing written) and checks docs/reliability.md lists each one. Paths are relative to a
temporary folder that holds the FILES below. Cases that need a process to be killed, a full disk or a second
writer live in tests/test_session.py, tests/test_cli_sweep.py and tests/test_isolate.py (docs list them too).
"""

from __future__ import annotations

FILES = {
    "ok.yaml": "name: s\nmeasure: [params]\ngrid: {model: vit_b16}\n",
    "dup.yaml": "name: s\ngrid: {model: vit_b16}\ngrid: {model: vit_s16}\n",
    "inf.yaml": "name: s\ndefaults: {min_time_s: .inf}\ngrid: {model: vit_b16}\n",
    "tag.yaml": "name: !!python/object:os.system s\ngrid: {model: vit_b16}\n",
    "list.yaml": "- a\n- b\n",
    "bad.yaml": "name: s\ngrid: {model: [vit_b16\n",
    "unknown_key.yaml": "name: s\ngrid: {model: vit_b16, colour: red}\n",
    "bad_res.yaml": "name: s\nmeasure: [params]\ngrid: {model: vit_b16, res: [225]}\n",
    "bomb.yaml": "name: s\na: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                 "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                 "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                 "g: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\ngrid: {model: vit_b16}\n",
    "zip_len.yaml": "name: s\ngrid: {model: vit_b16}\nzip: {res: [224, 384], batch: [1]}\n",
    "exclude.yaml": "name: s\ngrid: {model: vit_b16}\nexclude: [{model: vit_s16}]\n",
    "big.yaml": "name: s\nmeasure: [latency]\ngrid: {model: vit_ti16, batch: [1, 2, 3, 4, 5, 6, 7, 8],"
                " res: [32, 64, 96, 128]}\n",
    "notcsv.csv": "a,b\n1,2\n",
    "empty.csv": "",
    "patch_abc.csv": "model,patch,res_h,res_w,dim,depth,heads,tokens\nvit_b16,abc,224,224,768,12,12,197\n",
    "params_inf.csv": "model,patch,res_h,res_w,dim,depth,heads,mlp_ratio,classes,pool,registers,distill,tokens,"
                      "batch,device,dtype,attn,compile,params,macs,status\n"
                      "vit_b16,16,224,224,768,12,12,4.0,1000,cls,0,False,197,1,cpu,fp32,sdpa,False,inf,1,ok\n",
}

# (id, command, fragment of the one-line error)
CASES: list[tuple[str, list[str], str]] = [
    # models and configs
    ("unknown model", ["flops", "-m", "vitb16"], "did you mean vit_b16"),
    ("unknown DeiT size", ["flops", "-m", "deit_l16"], "DeiT comes in ti, s and b"),
    ("unknown model source", ["flops", "-m", "hf:vit"], "valid: timm:NAME, torchvision:NAME"),
    ("resolution not divisible", ["flops", "-m", "vit_b16", "--res", "225"], "nearest valid: 224 or 240"),
    ("resolution not a number", ["flops", "-m", "vit_b16", "--res", "abc"], "an integer or HxW"),
    ("resolution HxW cut", ["flops", "-m", "vit_b16", "--res", "384x"], "an integer or HxW"),
    ("negative resolution", ["flops", "-m", "vit_b16", "--res", "-3"], "resolution"),
    ("heads do not divide width", ["params", "-m", "vit_b16", "--heads", "5"], "heads that divide it"),
    ("zero depth", ["flops", "-m", "vit_b16", "--depth", "0"], "depth must be a positive integer"),
    ("zero patch", ["flops", "-m", "vit_b16", "--patch", "0"], "patch must be a positive integer"),
    ("negative classes", ["params", "-m", "vit_b16", "--classes", "-1"], "classes must be >= 0"),
    ("negative registers", ["params", "-m", "vit_b16", "--registers", "-2"], "registers must be >= 0"),
    ("zero MLP ratio", ["split", "-m", "vit_b16", "--mlp-ratio", "0"], "mlp ratio must be a finite number"),
    ("infinite MLP ratio", ["flops", "-m", "vit_b16", "--mlp-ratio", "inf"], "must be a finite number"),
    ("overflowing MLP ratio", ["params", "-m", "vit_b16", "--mlp-ratio", "1e308"], "mlp ratio must be a finite"),
    ("unknown pool", ["flops", "-m", "vit_b16", "--pool", "max"], "'max' is not one of 'cls', 'gap'"),
    ("overrides on an external model", ["flops", "-m", "timm:vit_base_patch16_224", "--depth", "2"],
     "apply to zoo models only"),
    ("missing --model", ["flops"], "Missing option '--model'"),
    ("option given twice", ["flops", "-m", "vit_b16", "-m", "vit_s16"], "--model given more than once"),
    ("unknown command", ["frobnicate"], "No such command"),
    # counting
    ("unknown counter", ["flops", "-m", "vit_b16", "--counter", "thop"], "'thop' is not one of"),
    ("unknown counting device", ["flops", "-m", "vit_b16", "--device", "tpu"], "'tpu' is not one of"),
    ("zero batch (flops)", ["flops", "-m", "vit_b16", "--batch", "0"], "greater than or equal to 1"),
    ("batch not a number", ["flops", "-m", "vit_b16", "--batch", "abc"], "Invalid value for '--batch'"),
    ("too large to trace", ["flops", "-m", "vit_ti16", "--counter", "torch", "--res", "1000000000"],
     "too large to trace on meta"),
    ("csv path with the wrong suffix", ["models", "--csv", "m.txt"], "--csv needs a path ending in .csv"),
    ("two outputs to stdout", ["flops", "-m", "vit_b16", "--json", "-", "--csv", "-"], "only one of --csv and"),
    ("split plot format", ["split", "-m", "vit_b16", "--plot", "x.jpg"], ".png or .svg"),
    # bench and peak
    ("unknown dtype", ["bench", "-m", "vit_ti16", "--dtype", "fp8"], "'fp8' is not one of 'fp32'"),
    ("unknown attention backend", ["bench", "-m", "vit_ti16", "--attn", "xformers"], "'xformers' is not one of"),
    ("unknown mode", ["bench", "-m", "vit_ti16", "--mode", "eval"], "'eval' is not one of 'infer', 'train'"),
    ("unknown device", ["bench", "-m", "vit_ti16", "--device", "tpu"], "valid: auto, cpu, cuda, cuda:N"),
    ("zero batch (bench)", ["bench", "-m", "vit_ti16", "--batch", "0"], "greater than or equal to 1"),
    ("zero iterations", ["bench", "-m", "vit_ti16", "--iters", "0"], "greater than or equal to 1"),
    ("negative warm-up", ["bench", "-m", "vit_ti16", "--warmup", "-1"], "greater than or equal to 0"),
    ("infinite minimum time", ["bench", "-m", "vit_ti16", "--device", "cpu", "--min-time", "inf"],
     "must be a finite number"),
    ("NaN warm-up time", ["bench", "-m", "vit_ti16", "--device", "cpu", "--min-warmup", "nan"],
     "Invalid value for '--min-warmup'"),
    ("flag and its negation", ["bench", "-m", "vit_ti16", "--split", "--no-split"], "given more than once"),
    ("find-max-batch on CPU", ["bench", "-m", "vit_ti16", "--device", "cpu", "--find-max-batch"],
     "--find-max-batch needs a CUDA device"),
    ("bench to an existing file", ["bench", "-m", "vit_ti16", "--device", "cpu", "--csv", "notcsv.csv"],
     "already exists"),
    ("peak: zero iterations", ["peak", "--iters", "0"], "greater than or equal to 1"),
    ("peak: unknown device", ["peak", "--device", "gpu"], "unknown device 'gpu'"),
    # suites and sweeps
    ("missing suite", ["sweep", "nope.yaml"], "not found"),
    ("duplicate YAML key", ["sweep", "dup.yaml", "--dry-run"], "duplicate key 'grid' (first at line 2)"),
    ("non-finite number in a suite", ["sweep", "inf.yaml", "--dry-run"], "is not a finite number"),
    ("python tag in a suite", ["sweep", "tag.yaml", "--dry-run"], "refused YAML tag"),
    ("suite that is a list", ["sweep", "list.yaml", "--dry-run"], "a suite is a YAML mapping"),
    ("suite that is not YAML", ["sweep", "bad.yaml", "--dry-run"], "not valid YAML"),
    ("unknown grid key", ["sweep", "unknown_key.yaml", "--dry-run"], "unknown key"),
    ("impossible grid point", ["sweep", "bad_res.yaml", "--dry-run"], "not divisible by patch 16"),
    ("YAML alias bomb", ["sweep", "bomb.yaml", "--dry-run"], "aliases are expanded"),
    ("zip lists of unequal length", ["sweep", "zip_len.yaml", "--dry-run"], "must have the same length"),
    ("exclude that matches nothing", ["sweep", "exclude.yaml", "--dry-run"], "matches no point of the grid"),
    ("more points than --max-points", ["sweep", "big.yaml", "--max-points", "5"], "more than --max-points 5"),
    ("shard out of range", ["sweep", "ok.yaml", "--shard", "5/4"], "--shard K/N needs 1 <= K <= N"),
    ("shard not K/N", ["sweep", "ok.yaml", "--shard", "3"], "--shard must be K/N"),
    ("points out of range", ["sweep", "ok.yaml", "--points", "0,4"], "the suite has 1 point(s), numbered 0 to 0"),
    ("points not indices", ["sweep", "ok.yaml", "--points", "a"], "--points takes point indices like 0,3,5"),
    ("points with an executor", ["sweep", "ok.yaml", "--points", "0", "--executor", "local"],
     "--points and --executor do not combine"),
    ("ab without a baseline", ["ab", "ok.yaml"], "vitbench ab needs a baseline"),
    ("ab with no repeats", ["ab", "ok.yaml", "--baseline-tree", ".", "--repeats", "0"], "--repeats must be"),
    ("sweep output not CSV", ["sweep", "ok.yaml", "-o", "x.txt"], "results are written as CSV"),
    ("sweep unknown device", ["sweep", "ok.yaml", "--device", "tpu"], "unknown device 'tpu'"),
    ("sweep over an existing file", ["sweep", "ok.yaml", "-o", "notcsv.csv"], "already exists; pass --resume"),
    ("resume a file of another schema", ["sweep", "ok.yaml", "-o", "notcsv.csv", "--resume"], "other columns"),
    ("resume with nothing to resume", ["sweep", "ok.yaml", "--resume", "--results-dir", "none"],
     "no earlier result"),
    ("baseline update of a missing suite", ["baseline", "update", "nope.yaml"], "not found"),
    # result files
    ("merge without inputs", ["merge", "-o", "m.csv"], "Missing argument"),
    ("merge over an existing file", ["merge", "notcsv.csv", "-o", "notcsv.csv"], "already exists"),
    ("compare a missing file", ["compare", "nope.csv", "nope.csv"], "not found"),
    ("compare a file that is not results", ["compare", "notcsv.csv", "notcsv.csv"], "not a vitbench result file"),
    ("compare an empty file", ["compare", "empty.csv", "empty.csv"], "the file is empty"),
    ("compare infinite params", ["compare", "params_inf.csv", "params_inf.csv"], "column params"),
    ("compare bad threshold", ["compare", "params_inf.csv", "params_inf.csv", "--max-slowdown", "ten"],
     "percentage"),
    ("plot a missing file", ["plot", "nope.csv"], "not found"),
    ("plot a bad cell", ["plot", "patch_abc.csv"], "column patch: 'abc' is not a number"),
    ("plot unknown format", ["plot", "patch_abc.csv", "--format", "jpg"], "'jpg' is not one of 'png', 'svg'"),
    ("report a file that is not results", ["report", "ok.yaml"], "not a vitbench result file"),
]
