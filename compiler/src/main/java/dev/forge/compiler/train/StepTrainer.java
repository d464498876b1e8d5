package dev.forge.compiler.train;

import dev.forge.runtime.Tensor;
import java.util.Map;

/**
 * What a training loop needs from a trainer: run a step, evaluate, read and replace the state. Two
 * implementations: {@link Trainer} runs the whole step as one graph in one ONNX Runtime session;
 * {@link ReplicatedTrainer} splits each batch among data-parallel replicas in this JVM. Both hold the same
 * state (parameters, optimizer state, running statistics), so checkpoints move freely between them.
 */
public interface StepTrainer extends AutoCloseable {
    /**
     * Runs the next training step on a batch at the current {@link #learningRate()}: step number
     * {@link #steps()} + 1.
     *
     * @param x inputs [B, ...]
     * @param y targets (int64 [B] for cross-entropy, else shaped like the prediction)
     */
    Trainer.StepResult step(Tensor x, Tensor y);

    /**
     * Runs training step number {@code step} on a batch with the learning rate {@code lr}; afterwards
     * {@link #steps()} is {@code step}.
     *
     * @param step 1-based step number (Adam's bias correction, dropout masks)
     * @param lr learning rate of this step
     * @throws IllegalArgumentException if {@code step} is below 1
     */
    Trainer.StepResult step(Tensor x, Tensor y, long step, double lr);

    /** Runs the inference graph (BatchNorm with running statistics, no dropout) on the current weights. */
    Trainer.EvalOutput evaluate(Tensor x, Tensor y);

    /** A copy of the current state (parameters, optimizer state, running statistics). */
    Map<String, Tensor> state();

    /** Replaces the current state; every state tensor must be given with its exact shape. */
    void setState(Map<String, Tensor> state);

    /** Optimizer steps taken so far. */
    long steps();

    /** Sets the count of completed steps, e.g. after restoring a checkpoint's state. */
    void setSteps(long steps);

    /** The learning rate {@link #step(Tensor, Tensor)} uses. */
    double learningRate();

    /** Sets the learning rate of the following steps. */
    void setLearningRate(double lr);

    /** The training graph whose step this trainer runs (for {@link ReplicatedTrainer}, its state and optimizer). */
    TrainingGraph trainingGraph();

    /** How many data-parallel replicas share each batch: 1 for {@link Trainer}. */
    default int replicas() {
        return 1;
    }

    @Override
    void close();
}
