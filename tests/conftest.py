import json

import cv2
import numpy as np
import pytest


def write_tiny_coco(root, num_train=4, num_val=2, size=(70, 90), seed=0):
    """A few images of filled rectangles and circles in COCO instance format (polygon masks).

    Sizes are deliberately not multiples of 32.
    """
    rng = np.random.default_rng(seed)
    categories = [dict(id=1, name='box'), dict(id=2, name='disc')]
    for split, count in (('train', num_train), ('val', num_val)):
        (root / split).mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        for i in range(count):
            h, w = size
            img = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
            for k in range(2):
                cat = 1 + k % 2
                x0, y0 = int(rng.integers(2, w // 2)), int(rng.integers(2, h // 2))
                bw, bh = int(rng.integers(12, w // 2 - 2)), int(rng.integers(12, h // 2 - 2))
                mask = np.zeros((h, w), np.uint8)
                if cat == 1:
                    cv2.rectangle(mask, (x0, y0), (x0 + bw, y0 + bh), 1, -1)
                else:
                    cv2.ellipse(mask, (x0 + bw // 2, y0 + bh // 2), (bw // 2, bh // 2), 0, 0, 360,
                                1, -1)
                img[mask > 0] = (200, 80, 40) if cat == 1 else (40, 200, 120)
                contour = cv2.findContours(mask, cv2.RETR_EXTERNAL,
                                           cv2.CHAIN_APPROX_SIMPLE)[0][0].reshape(-1)
                x, y, bw2, bh2 = cv2.boundingRect(mask)
                annotations.append(dict(
                    id=len(annotations) + 1, image_id=i + 1, category_id=cat, iscrowd=0,
                    bbox=[x, y, bw2, bh2], area=float(mask.sum()),
                    segmentation=[contour.astype(float).tolist()]))
            name = f'{i:04d}.png'
            cv2.imwrite(str(root / split / name), img)
            images.append(dict(id=i + 1, file_name=name, height=h, width=w))
        (root / f'{split}.json').write_text(json.dumps(
            dict(images=images, annotations=annotations, categories=categories)))
    return root


@pytest.fixture(scope='session')
def tiny_coco(tmp_path_factory):
    return write_tiny_coco(tmp_path_factory.mktemp('tiny_coco'))
