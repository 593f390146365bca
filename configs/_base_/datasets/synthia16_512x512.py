# SYNTHIA source for 16-way heads (DiGA, Cal-SFDA, ...): the same files and pipeline as
# synthia_512x512.py, labels remapped to the 16 SYNTHIA classes at load time. Evaluate with
# cityscapes_512x512_target_synthia16.py. Rare class sampling needs the 16-class statistics:
#   python tools/dataset_converters/synthia.py data/synthia --num-classes 16
# writes them to data/synthia/class_stats16/.
_base_ = './synthia_512x512.py'
synthia_train_dataset = dict(type='Synthia16Dataset')
train_dataloader = dict(dataset=dict(type='Synthia16Dataset'))
