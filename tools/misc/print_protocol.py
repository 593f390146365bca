"""Print the training protocol of configs as a markdown table (what a method README states).

    python tools/misc/print_protocol.py configs/tent/*r101*.py

For each config: the train data (crop and resize of the source / target pipelines), the batch, the
schedule (iterations, rounds), the optimiser's learning rate, the evaluation set and the checkpoint
rule (``save_best``), read from the parsed config, so a README's protocol table can be regenerated
when a config changes.
"""
import argparse
import os.path as osp

from mmengine.config import Config


def _pipeline_summary(dataset):
    if not dataset:
        return '-'
    parts = []
    for t in dataset.get('pipeline', []):
        if t['type'] == 'Resize':
            parts.append(f"resize {t['scale'][0]}x{t['scale'][1]}" + (' (keep ratio)' if t.get('keep_ratio') else ''))
        elif t['type'] == 'RandomResize':
            parts.append(f"random resize {t['scale']} x {t.get('ratio_range')}")
        elif t['type'] == 'RandomCrop':
            parts.append(f"crop {t['crop_size'][0]}x{t['crop_size'][1]}")
        elif t['type'] == 'RandomFlip':
            parts.append('flip')
    name = dataset.get('type', '?').replace('Checked', '')
    return f"{name}: " + ', '.join(parts)


def protocol(path):
    cfg = Config.fromfile(path)
    ds = cfg.train_dataloader.dataset
    if ds.get('type') == 'DomainPairDataset':
        data = f"{_pipeline_summary(ds.source)}; {_pipeline_summary(ds.target)}"
    else:
        data = _pipeline_summary(ds)
    tc = cfg.get('train_cfg', {})
    iters = tc.get('max_iters')
    rounds = tc.get('rounds')
    sched = f'{iters}' + (f' (rounds {list(rounds)})' if rounds else '')
    optim = cfg.get('optim_wrapper', {})
    if 'optimizer' in optim:
        lr = f"{optim.optimizer.type} {optim.optimizer.get('lr')}"
    else:
        lr = ', '.join(f"{k}: {v.optimizer.type} {v.optimizer.get('lr')}" for k, v in optim.items()
                       if isinstance(v, dict) and 'optimizer' in v) or '-'
    val = cfg.get('val_dataloader') or {}
    val_ds = val.get('dataset', {}) if val else {}
    val_name = f"{val_ds.get('type', '-').replace('Checked', '')} {val_ds.get('data_prefix', {}).get('img_path', '')}".strip()
    best = (cfg.get('default_hooks', {}).get('checkpoint') or {}).get('save_best')
    return (f"| `{osp.basename(path)}` | {data} | {cfg.train_dataloader.batch_size} | {sched} | {lr} "
            f"| {val_name} | {best} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('configs', nargs='+')
    args = parser.parse_args()
    print('| config | train data (pipeline) | batch | iterations | optimiser, lr | validation | save_best |')
    print('| --- | --- | --- | --- | --- | --- | --- |')
    for path in args.configs:
        print(protocol(path))


if __name__ == '__main__':
    main()
