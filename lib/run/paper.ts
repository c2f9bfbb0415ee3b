// The paper's reported numbers (Ilyas et al. 2019), defined once; experiments and the report read them here.

/** Table 1: test accuracy on the original test set of models trained on D, D_rand and D_det. */
export const TABLE1 = {
  cifar10: { d: 0.953, d_rand: 0.633, d_det: 0.437 },
  restrictedImagenet: { d: 0.966, d_rand: 0.879, d_det: 0.644 },
} as const;

/** Figure 2b (CIFAR-10): standard and robust accuracy (L2 eps 0.25), read off the bar chart. */
export const FIG2B = {
  eps: 0.25,
  models: {
    standard: { stdAcc: 0.953, robustAcc: 0.045 },
    robust: { stdAcc: 0.9, robustAcc: 0.7 },
    d_r: { stdAcc: 0.84, robustAcc: 0.48 },
    d_nr: { stdAcc: 0.88, robustAcc: 0.0 },
  },
} as const;

/** Figure 3 (CIFAR-10, source ResNet-50): test accuracy when trained on D_det and transfer rate. */
export const FIG3 = [
  { arch: "ResNet-50", testAccOnDdet: 0.447, transferRate: 1.0 },
  { arch: "DenseNet", testAccOnDdet: 0.417, transferRate: 0.93 },
  { arch: "ResNet-18", testAccOnDdet: 0.409, transferRate: 0.92 },
  { arch: "Inception-v3", testAccOnDdet: 0.394, transferRate: 0.83 },
  { arch: "VGG-16", testAccOnDdet: 0.279, transferRate: 0.655 },
] as const;
