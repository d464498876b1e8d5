package dev.forge.compiler.train;

import dev.forge.runtime.Tensor;
import java.util.ArrayDeque;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * What a trainer made for the direct batch tensors it was given (their ONNX Runtime wrappers or row slices), by
 * tensor identity: loaders reuse the same direct tensors batch after batch, so each is wrapped once. Only the
 * {@link #KEPT} most recent are kept, so a caller that makes new direct tensors for every batch does not pile
 * up native objects; a replaced or evicted value is closed.
 */
final class BatchWrappers<V> {
    /**
     * How many direct batch tensors keep their wrapper: more than a {@code DataLoader} cycles through
     * (prefetch 4: 5 slots of full and partial batches, inputs and labels, for training and evaluation
     * make 40), few enough that new tensors for every batch do not pile up.
     */
    static final int KEPT = 64;

    private final Map<Tensor, V> byTensor = new IdentityHashMap<>();
    /** The keys of {@link #byTensor}, oldest first. */
    private final ArrayDeque<Tensor> order = new ArrayDeque<>();

    private final Consumer<V> close;

    BatchWrappers(Consumer<V> close) {
        this.close = close;
    }

    /** The value made for this very tensor, or null. */
    V get(Tensor t) {
        return byTensor.get(t);
    }

    /** Keeps {@code v} for {@code t}, closing the value it replaces and, past {@link #KEPT}, the oldest. */
    void put(Tensor t, V v) {
        V old = byTensor.put(t, v);
        if (old != null) {
            close.accept(old);
            order.removeIf(k -> k == t);
        }
        order.addLast(t);
        if (order.size() > KEPT) {
            close.accept(byTensor.remove(order.removeFirst()));
        }
    }

    /** Closes every value kept. */
    void closeAll() {
        byTensor.values().forEach(close);
        byTensor.clear();
        order.clear();
    }
}
