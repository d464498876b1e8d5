package dev.forge.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class DeviceTest {

    private static boolean buildHasCuda() {
        return Model.availableDevices().stream().anyMatch(d -> d.kind() == Device.Kind.CUDA);
    }

    @Test
    void parsesEveryAcceptedForm() {
        assertEquals(Device.cpu(), Device.parse("cpu"));
        assertEquals(Device.cpu(), Device.parse(" CPU "));
        assertEquals(Device.cuda(0), Device.parse("cuda"));
        assertEquals(Device.cuda(1), Device.parse("cuda:1"));
        assertEquals(Device.auto(), Device.parse("auto"));
        assertEquals(Device.Kind.CUDA, Device.parse("cuda:3").kind());
        assertEquals(3, Device.parse("cuda:3").deviceId());
    }

    @Test
    void toStringIsWhatParseAccepts() {
        assertEquals("cuda:0", Device.cuda(0).toString());
        assertEquals("cpu", Device.cpu().toString());
        assertEquals("auto", Device.auto().toString());
        for (Device d : List.of(Device.cpu(), Device.cuda(2), Device.auto())) {
            assertEquals(d, Device.parse(d.toString()));
        }
    }

    @Test
    void badDeviceNamesListTheValidForms() {
        for (String bad : List.of("gpu", "cuda:", "cuda:-1", "cuda:x", "tpu", "", "cuda:1:2")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Device.parse(bad));
            assertTrue(
                    e.getMessage().contains("'" + bad + "'") && e.getMessage().contains("[cpu, cuda, cuda:N, auto]"),
                    e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> Device.cuda(-1));
    }

    @Test
    void optionsDefaultsAndBuilder() {
        ModelOptions d = ModelOptions.defaults();
        assertEquals(Device.cpu(), d.device());
        assertEquals(0, d.intraOpThreads());
        assertEquals(0, d.interOpThreads());
        assertEquals(OptimizationLevel.ALL, d.optimizationLevel());
        assertTrue(d.optimizedModelCache().isEmpty());
        ModelOptions o = ModelOptions.builder()
                .device(Device.auto())
                .intraOpThreads(2)
                .interOpThreads(1)
                .optimizationLevel(OptimizationLevel.BASIC)
                .optimizedModelCache(Path.of("m.opt.onnx"))
                .build();
        assertEquals(Device.auto(), o.device());
        assertEquals(2, o.intraOpThreads());
        assertEquals(1, o.interOpThreads());
        assertEquals(OptimizationLevel.BASIC, o.optimizationLevel());
        assertEquals(Path.of("m.opt.onnx"), o.optimizedModelCache().orElseThrow());
        assertEquals(o, o.toBuilder().build());
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class, () -> ModelOptions.builder().intraOpThreads(-1));
        assertTrue(e.getMessage().contains("-1"), e.getMessage());
        assertThrows(
                IllegalArgumentException.class, () -> ModelOptions.builder().interOpThreads(-2));
        IllegalArgumentException cudaCache = assertThrows(
                IllegalArgumentException.class,
                () -> ModelOptions.builder()
                        .device(Device.cuda(0))
                        .optimizedModelCache(Path.of("c.onnx"))
                        .build());
        assertTrue(cudaCache.getMessage().contains("only on the CPU"), cudaCache.getMessage());
    }

    @Test
    void availableDevicesAlwaysStartWithTheCpu() {
        assertEquals(Device.cpu(), Model.availableDevices().get(0));
    }

    @Test
    void cudaOnACpuOnlyBuildSaysHowToGetIt() {
        assumeFalse(buildHasCuda(), "this build has CUDA");
        ModelOptions cuda = ModelOptions.builder().device(Device.cuda(0)).build();
        DeviceUnavailableException e =
                assertThrows(DeviceUnavailableException.class, () -> Model.load(TestModels.relu(), "relu", cuda));
        assertTrue(e.getMessage().contains("-Pcuda"), e.getMessage());
        assertTrue(e.getMessage().contains("available: [CPU"), e.getMessage());
        assertTrue(e.getMessage().contains("CUDA 12") && e.getMessage().contains("cuDNN 9"), e.getMessage());
        assertEquals(List.of(Device.cpu()), Model.availableDevices());
    }

    @Test
    void autoFallsBackToTheCpu() {
        assumeFalse(buildHasCuda(), "this build has CUDA");
        ModelOptions auto = ModelOptions.builder().device(Device.auto()).build();
        try (Model m = Model.load(TestModels.relu(), "relu", auto)) {
            assertEquals(Device.cpu(), m.device());
            assertEquals(Device.auto(), m.options().device());
            assertArrayEquals(
                    new float[] {0, 1, 0, 2},
                    m.run(Tensor.of(new float[] {-1, 1, -2, 2}, 1, 4)).toFloatArray());
        }
    }

    @Test
    void aModelLoadErrorIsNotMistakenForADeviceError() {
        ModelOptions auto = ModelOptions.builder().device(Device.auto()).build();
        assertThrows(ModelLoadException.class, () -> Model.load(new byte[] {1, 2, 3}, "junk", auto));
        assertFalse(DeviceUnavailableException.class.isAssignableFrom(ModelLoadException.class));
    }

    private static void assertArrayEquals(float[] expected, float[] actual) {
        org.junit.jupiter.api.Assertions.assertArrayEquals(expected, actual);
    }
}
