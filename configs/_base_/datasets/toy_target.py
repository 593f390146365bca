# Toy benchmark, target domain (shifted palette, textures, dusk light, fog/rain, blur, noise):
# trained on target train (with its labels: the oracle), validated and tested on target val.
# Pipelines, batch sizes and evaluator as in toy_source.py.
# Generate the data first: python tools/make_toy_data.py --out data/toy
_base_ = ['./toy_source.py']
train_dataloader = dict(dataset=dict(data_root='data/toy/target'))
val_dataloader = dict(dataset=dict(data_root='data/toy/target'))
test_dataloader = dict(dataset=dict(data_root='data/toy/target'))
