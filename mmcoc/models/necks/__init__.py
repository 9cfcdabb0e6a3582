from .secvit_neck import CLASSIFIER_DIM, SecViTNeck, classifier_layers

__all__ = ['CLASSIFIER_DIM', 'SecViTNeck', 'classifier_layers']
