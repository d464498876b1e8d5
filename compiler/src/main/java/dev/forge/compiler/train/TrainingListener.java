package dev.forge.compiler.train;

import java.io.PrintStream;
import java.util.List;
import java.util.Locale;

/**
 * Follows a training run: progress bars, logs, metric files and plots are listeners, outside the loop
 * (like Keras callbacks and DJL's {@code TrainingListener}). Every method has an empty default; a
 * listener that throws stops the run.
 */
public interface TrainingListener {
    /**
     * The run starts (after a checkpoint, if any, was restored).
     *
     * @param start what is about to run
     */
    default void onStart(Start start) {}

    /**
     * {@link Replicas#auto()} measured the candidate replica counts and chose one (before {@link #onStart}).
     *
     * @param choice what was measured and kept
     */
    default void onReplicas(Replicas.Choice choice) {}

    /**
     * An epoch starts.
     *
     * @param epoch 1-based epoch
     * @param epochs total epochs of the run
     * @param steps steps this epoch will take
     */
    default void onEpochStart(int epoch, int epochs, int steps) {}

    /**
     * A training step finished.
     *
     * @param step what the step did
     */
    default void onStep(Step step) {}

    /**
     * An epoch finished and was evaluated on the test set (and checkpointed, if asked).
     *
     * @param stats the epoch's metrics
     * @param history every epoch so far, this one last (including those of a resumed run's earlier part)
     */
    default void onEpochEnd(EpochStats stats, List<EpochStats> history) {}

    /**
     * The run finished normally.
     *
     * @param result what it produced
     */
    default void onEnd(TrainingResult result) {}

    /**
     * The run stopped with an error (e.g. {@link TrainingDivergedException}), which is thrown on to the
     * caller after every listener saw it; release what the listener holds (a progress bar).
     *
     * @param error the error
     */
    default void onError(RuntimeException error) {}

    /**
     * The start of a run.
     *
     * @param epochs total epochs (a resumed run continues up to this number)
     * @param startEpoch epochs already completed (0, or a resumed checkpoint's)
     * @param startStep steps already completed
     * @param resumed true when continuing from a checkpoint
     */
    record Start(int epochs, int startEpoch, long startStep, boolean resumed) {}

    /**
     * One finished training step.
     *
     * @param epoch 1-based epoch
     * @param step 1-based step number over the whole run
     * @param stepInEpoch 1-based step within the epoch
     * @param stepsInEpoch steps the epoch takes
     * @param batchSize samples in this batch
     * @param loss this batch's loss
     * @param meanLoss mean loss over the epoch's samples so far
     */
    record Step(int epoch, long step, int stepInEpoch, int stepsInEpoch, int batchSize, double loss, double meanLoss) {}

    /**
     * A listener that prints one line per epoch (train and test loss and accuracy, rate, time) and a line
     * when a run resumes, e.g.
     * {@code epoch 1/10  train loss 0.2153 acc 0.9342  test loss 0.0712 acc 0.9781  lr 0.01  31.2 s (1923 img/s)}.
     *
     * @param out where the lines go
     */
    static TrainingListener epochLog(PrintStream out) {
        return new TrainingListener() {
            private int epochs;

            @Override
            public void onStart(Start start) {
                epochs = start.epochs();
                if (start.resumed()) {
                    out.printf(
                            Locale.ROOT, "resuming after epoch %d (step %d)%n", start.startEpoch(), start.startStep());
                }
            }

            @Override
            public void onReplicas(Replicas.Choice choice) {
                out.println(choice.describe());
                out.flush();
            }

            @Override
            public void onEpochEnd(EpochStats s, List<EpochStats> history) {
                boolean classifier = !Double.isNaN(s.trainAccuracy());
                out.printf(
                        Locale.ROOT,
                        "epoch %d/%d%s  train loss %.4f%s  test loss %.4f%s  lr %s  %.1f s (%.0f img/s)%n",
                        s.epoch(),
                        epochs,
                        s.partial()
                                ? String.format(Locale.ROOT, " (partial: %.0f%% of its steps)", 100 * s.fraction())
                                : "",
                        s.trainLoss(),
                        classifier ? String.format(Locale.ROOT, " acc %.4f", s.trainAccuracy()) : "",
                        s.testLoss(),
                        classifier ? String.format(Locale.ROOT, " acc %.4f", s.testAccuracy()) : "",
                        s.lr(),
                        s.seconds(),
                        s.imagesPerSecond());
                out.flush();
            }
        };
    }
}
