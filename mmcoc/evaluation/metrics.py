"""Mean per-class accuracy (mAcc), the balanced accuracy of point-cloud classification."""
from typing import List

import torch
from mmpretrain.evaluation import Accuracy

from mmcoc.registry import METRICS


@METRICS.register_module()
class MeanClassAccuracy(Accuracy):
    """mAcc: the top-1 accuracy of each class, averaged over the classes that occur in the
    ground truth (scikit-learn's ``balanced_accuracy_score``, which the official ScanObjectNN
    code reports as mAcc), in percent, as ``accuracy/mAcc``. With mmpretrain's ``Accuracy``
    (``accuracy/top1``: the overall accuracy, OA) it makes the two numbers of ScanObjectNN;
    it reads the same predictions as ``Accuracy`` does."""

    def __init__(self, collect_device: str = 'cpu', prefix=None):
        super().__init__(topk=(1, ), collect_device=collect_device, prefix=prefix)

    def compute_metrics(self, results: List) -> dict:
        target = torch.cat([r['gt_label'].view(-1) for r in results])
        if 'pred_score' in results[0]:
            pred = torch.stack([r['pred_score'] for r in results]).argmax(-1)
        else:
            pred = torch.cat([r['pred_label'].view(-1) for r in results])
        correct = (pred == target).double()
        classes = target.unique()
        per_class = torch.stack([correct[target == c].mean() for c in classes])
        return {'mAcc': float(per_class.mean() * 100)}
