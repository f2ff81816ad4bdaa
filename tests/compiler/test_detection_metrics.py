"""How a detector's accuracy is measured: its network's outputs, and the agreement of the boxes it selects."""
import torch

from torch_ttnn import metrics


class TinyDetector(torch.nn.Module):
    """A head of box and class predictions per location, then box selection by score, as torchvision's."""

    def __init__(self):
        super().__init__()
        self.backbone = torch.nn.Conv2d(3, 16, 3, padding=1)
        self.head = torch.nn.Conv2d(16, 4 + 3, 1)

    def forward(self, x):
        p = self.head(torch.relu(self.backbone(x)))            # [1, 7, H, W]
        p = p.flatten(2).transpose(1, 2)[0]                      # [H*W, 7]
        scores, labels = p[:, 4:].softmax(-1).max(-1)
        keep = torch.topk(scores, 10).indices
        xy = p[keep, :2].abs() * 10
        boxes = torch.cat([xy, xy + 1 + p[keep, 2:4].abs() * 5], 1)
        return [{"boxes": boxes, "scores": scores[keep], "labels": labels[keep]}]


def test_detection_agreement_matches_label_and_overlap():
    ref = [{"boxes": torch.tensor([[0., 0, 10, 10], [20, 20, 30, 30], [0, 0, 5, 5]]),
            "scores": torch.tensor([0.9, 0.8, 0.7]), "labels": torch.tensor([1, 2, 1])}]
    out = [{"boxes": torch.tensor([[21., 21, 30, 30], [0, 0, 10, 11], [0, 0, 5, 5]]),
            "scores": torch.tensor([0.8, 0.9, 0.7]), "labels": torch.tensor([2, 1, 3])}]   # last: other label
    agree = metrics.detection_agreement(out, ref)
    assert agree == {"eager": 3, "compiled": 3, "matched": 2, "agreement": round(200 / 3, 2)}
    assert metrics.accuracy(out, ref) < 99.0       # compared as tensors, the reordered detections differ


def test_detector_accuracy_is_its_heads_pcc(device):
    torch.manual_seed(0)
    model = TinyDetector().eval()
    m = metrics.measure("tiny_detector", model, (torch.rand(1, 3, 16, 16),), device=device, runs=1)
    assert m.success, m.error
    assert m.detections["accuracy_of"] == "head" and m.detections["eager"] == 10
    assert m.accuracy >= 99.0           # the head's PCC (measured with a hook on model.head, compiled again)
