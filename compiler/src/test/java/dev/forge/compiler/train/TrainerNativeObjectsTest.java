package dev.forge.compiler.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The trainers' own ONNX Runtime objects ({@link TrainerNativeObjects}): their number does not grow with
 * the steps, whatever batches the caller passes, and closing the trainer closes them all.
 */
class TrainerNativeObjectsTest {
    private static final ModelOptions ONE_THREAD =
            ModelOptions.builder().intraOpThreads(1).build();

    /** Open sessions, tensors and results, as "S T R". */
    static String open() {
        return TrainerNativeObjects.SESSIONS.get() + " " + TrainerNativeObjects.TENSORS.get() + " "
                + TrainerNativeObjects.RESULTS.get();
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void a_new_direct_batch_every_step_does_not_pile_up_and_close_frees_everything(int replicas) {
        TrainingGraph tg = TrainingGraph.build(TrainingApiTest.tinyCnn(true), Loss.CROSS_ENTROPY, Optimizer.sgd(0.05));
        String before = open();
        // once the wrappers kept for direct batches are full (2 a step), the count must stop moving
        int full = BatchWrappers.KEPT;
        int end = 2 * BatchWrappers.KEPT;
        String atFull = null;
        try (StepTrainer t = ReplicaProbe.open(tg, new Replicas.Layout(replicas, 1), ONE_THREAD, 7)) {
            for (int s = 1; s <= end; s++) {
                // a loader that allocates each batch (as the tests' batch() does): new direct tensors each step
                Tensor[] b = ReplicatedTrainerTest.batch(16, 100 + s);
                t.step(b[0], b[1]);
                if (s % 5 == 0) {
                    Tensor[] e = ReplicatedTrainerTest.batch(8, 1000 + s);
                    t.evaluate(e[0], e[1]);
                }
                if (s == full) {
                    atFull = open();
                }
            }
            assertEquals(
                    atFull,
                    open(),
                    "open sessions, tensors and results after step " + full + " and after step " + end
                            + " (each step passed new direct batch tensors)");
        }
        assertEquals(before, open(), "open sessions, tensors and results before the trainer and after its close");
    }
}
