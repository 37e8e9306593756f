"""`sweep --executor slurm|local`: a sweep as a submitit job array, waited for and merged into one file. No torch.

submitit (an optional dependency: `pip install 'vitbench[cluster]'`) submits the jobs: `slurm` as one Slurm job
array (sbatch), `local` as subprocesses of this machine with the same job folders, pickles and logs (what the
tests and a user without a cluster run). Each job runs `job.run_job`: the suite's points it was given (round 1:
job k of N gets the points whose index % N == k-1, i.e. `--shard k/N`), through vitbench.runs.execute into its
own results file (a Session: lock, whole rows, raw samples, sidecar), on one device — or on `--devices` workers
(G GPUs per Slurm job: one worker per GPU).

Files, beside the output `OUT.csv`:

    OUT.jobs/state.json              what was submitted: rounds of jobs (job id, file, points)
    OUT.jobs/r1_job2of4.csv          a job's rows (+ .samples.csv, .meta.json naming the job id, host and GPUs)
    OUT.jobs/logs/<job id>/          submitit's pickles and the job's stdout / stderr

The controller (this process) waits with a progress bar over finished points (counting the jobs' rows as they
are appended), then merges every job file into OUT.csv (results_io.merge_files, raw samples included) with one
sidecar listing every job: id, state, host, GPUs, points, rows, queue and wall seconds, workers. `--no-wait`
returns after submitting and prints the `vitbench merge` command. Re-running the same command finds
OUT.jobs/: while earlier jobs are still queued or running it waits for them; otherwise it submits only the
points no job file has (a new round), then merges everything. Devices named `auto` resolve where the jobs run:
on Slurm to `cuda` when jobs get GPUs, else `cpu`; the controller plans with the same rule, so it knows every
row's key without a GPU on the login node.

Modules (imports point down the list; none imports torch at module level):

    options    ClusterOptions (the --executor / --jobs / --slurm-* flags), what `auto` means, jobs' workers
    state      OUT.jobs/ and state.json: the jobs submitted; the default output name
    jobfiles   the jobs' results files: listing, torn-line repair, done keys, rows so far
    tracker    a submitted job's state: alive, outcome, cancel (submitit, sacct or the local pid)
    job        inside a job: JobTask (pickled by submitit) and run_job
    executor   submitit executors: Slurm / local parameters, one GPU per local job
    submit     submit the missing points as a new round, or re-attach; wait with a progress callback
    merge      merge the job files into OUT.csv with one sidecar listing every job
"""
