package dev.forge.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.compiler.data.Dataset;
import dev.forge.compiler.data.Mnist;
import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.onnx.OnnxWriter;
import dev.forge.compiler.onnx.PythonOnnx;
import dev.forge.compiler.passes.PassContext;
import dev.forge.compiler.quant.Float16Conversion;
import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Training;
import dev.forge.compiler.train.TrainingResult;
import dev.forge.runtime.DType;
import dev.forge.runtime.Device;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The float16 conversion of a trained seed network, on the whole MNIST test set. */
class Float16SeedNetTest {
    @TempDir
    Path tmp;

    @Test
    void mnist_cnn_in_float16_is_half_the_size_and_agrees_with_float32_on_the_test_set() throws Exception {
        TrainingResult r = Training.of(MnistCnn.build(0))
                .loss(Loss.CROSS_ENTROPY)
                .optimizer(Optimizer.adam(0.005))
                .batchSize(64)
                .seed(1)
                .maxStepsPerEpoch(60)
                .fit(Mnist.train().subset(0, 3840), Mnist.test().subset(0, 500));
        assertTrue(
                r.evaluation().accuracy() > 0.85, "trained: " + r.evaluation().accuracy());
        Graph fp32 = r.exportedGraph();
        Float16Conversion pass = Float16Conversion.forDevice(Device.cpu());
        Graph fp16 = pass.run(fp32.copy(), new PassContext());

        Path f32 = tmp.resolve("mnist-cnn.onnx");
        Path f16 = tmp.resolve("mnist-cnn-fp16.onnx");
        OnnxWriter.write(fp32, f32);
        OnnxWriter.write(fp16, f16);
        double ratio = (double) Files.size(f16) / Files.size(f32);
        assertTrue(ratio <= 0.52, "fp16 model is " + ratio + " of the fp32 size");
        PythonOnnx.checkModel(f16);

        Dataset test = Mnist.test();
        int n = test.size();
        int agree = 0;
        float worst = 0;
        try (Model a = Model.load(f32, ModelOptions.defaults());
                Model b = Model.load(f16, ModelOptions.defaults())) {
            assertEquals(DType.FLOAT32, b.inputs().get(0).dtype());
            int batch = 500;
            float[] x = new float[batch * test.sampleSize()];
            for (int start = 0; start < n; start += batch) {
                for (int i = 0; i < batch; i++) {
                    test.copySample(start + i, x, i * test.sampleSize());
                }
                Tensor in = Tensor.of(x, batch, 1, 28, 28);
                float[] ya = a.run(in).toFloatArray();
                float[] yb = b.run(in).toFloatArray();
                for (int i = 0; i < batch; i++) {
                    agree += argmax(ya, i * 10) == argmax(yb, i * 10) ? 1 : 0;
                }
                for (int i = 0; i < ya.length; i++) {
                    worst = Math.max(worst, Math.abs(ya[i] - yb[i]));
                }
            }
        }
        double agreement = (double) agree / n;
        System.out.printf(
                "mnist-cnn fp16: size ratio %.4f, top-1 agreement %d/%d, max |logit diff| %.3g, float32 nodes %s%n",
                ratio, agree, n, worst, pass.float32Nodes().keySet());
        assertTrue(agreement >= 0.999, "top-1 agreement " + agree + "/" + n);
        // logits up to ~40; observed max difference 0.0034 (on this CPU the compute stays float32 and only
        // the weights are rounded; with ORT's float16 Gemm it was 0.27 and 11 of 10000 predictions changed)
        assertTrue(worst < 0.02, "max |fp16 - fp32| logit difference " + worst);
    }

    private static int argmax(float[] y, int offset) {
        int best = 0;
        for (int k = 1; k < 10; k++) {
            if (y[offset + k] > y[offset + best]) {
                best = k;
            }
        }
        return best;
    }
}
