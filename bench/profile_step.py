"""Where the time of a training step goes: torch.profiler tables for the benchmarks' workloads.

    python bench/profile_step.py            # Kakujo (2022)'s deep sigmoid network: a plain and a logged step
    python bench/profile_step.py --sweep    # also 8 stacked runs of Quijas (2020)'s 20 x 100 SELU network

Prints, per workload, the operators that take the most time of the profiled steps (self time,
so nested calls are not counted twice). docs/PERFORMANCE.md quotes these.
"""
from __future__ import annotations


from torch.profiler import ProfilerActivity, profile

import _common as C
from _deep_sigmoid import BATCH, load_workload, one_run
from core.engine.loop import train_step


def table(prof, device, rows: int = 15) -> str:
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=rows, max_name_column_width=45)


def deep_sigmoid(device, steps: int) -> None:
    engine, run, order = one_run(load_workload(), device)

    def step(logged: bool):
        train_step(engine, [run], order, 0, 1, logged)
        if logged:
            run.recorder.after_update(0, 1)

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    for logged in (False, True):
        for _ in range(3):
            step(logged)
        C.sync(device)
        with profile(activities=activities) as prof:
            for _ in range(steps):
                step(logged)
            C.sync(device)
        what = "a logged step (statistics and histograms)" if logged else "a step without statistics"
        print(f"\nKakujo (2022)'s deep sigmoid net, batch {BATCH}: {steps} x {what}")
        print(table(prof, device))


def stacked_sweep(device, steps: int) -> None:
    from core.base.config import RunConfig
    from core.engine.stacked import train_many

    base = RunConfig(widths=(100,) * 20, activation="selu", init="lecun_normal", standardize=True,
                     optimizer="nadam", lr=7e-4, batch_size=128, epochs=1, train_subset=128 * steps,
                     device=device.type)
    configs = [base.replace(seed=s) for s in range(8)]
    train_many(configs)  # warm-up: data, shape checks
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        train_many(configs)
    print(f"\n8 stacked runs of 20 x 100 SELU, batch 128, {steps} steps (incl. evaluation)")
    print(table(prof, device))


def main(argv=None) -> None:
    def options(parser):
        parser.add_argument("--steps", type=int, default=10, help="profiled steps (default 10)")
        parser.add_argument("--sweep", action="store_true", help="also profile a stacked sweep")

    args, device, _ = C.start(__doc__, argv, reps=None, extra=options)
    deep_sigmoid(device, args.steps)
    if args.sweep:
        stacked_sweep(device, args.steps)


if __name__ == "__main__":
    main()
