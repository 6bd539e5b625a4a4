"""Trainable parameter counts of torchvision's ResNet-18/34/50 encoders (fc removed), with the
ImageNet stem (7x7 conv) and with SupContrast's CIFAR stem (3x3 conv, no max-pool).
Run with Debian's PyTorch: /usr/bin/python3 reference/resnet_param_counts.py
(packages/supcon/test/models-resnet.test.ts compares our ResNets against these numbers)."""
import torch
import torchvision

for name in ["resnet18", "resnet34", "resnet50"]:
    model = getattr(torchvision.models, name)()
    model.fc = torch.nn.Identity()
    imagenet = sum(p.numel() for p in model.parameters())
    model.conv1 = torch.nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    cifar = sum(p.numel() for p in model.parameters())
    print(f"{name}: cifar {cifar} imagenet {imagenet}")
