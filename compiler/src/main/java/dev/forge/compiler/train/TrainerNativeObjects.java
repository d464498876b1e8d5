package dev.forge.compiler.train;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxTensorLike;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts the ONNX Runtime objects {@link Trainer} creates and closes itself (sessions, tensors, run
 * results), as the runtime counts {@code Model}'s: a test can prove that none is left open, and that
 * the number open does not grow with the steps. Its session options come from the runtime and are
 * counted there.
 */
final class TrainerNativeObjects {
    static final AtomicLong SESSIONS = new AtomicLong();
    static final AtomicLong TENSORS = new AtomicLong();
    static final AtomicLong RESULTS = new AtomicLong();

    private TrainerNativeObjects() {}

    /** Sessions, tensors and run results open now. */
    static long open() {
        return SESSIONS.get() + TENSORS.get() + RESULTS.get();
    }

    /** For messages: the count of each kind. */
    static String describe() {
        return "sessions " + SESSIONS.get() + ", tensors " + TENSORS.get() + ", run results " + RESULTS.get();
    }

    static OrtSession session(OrtEnvironment env, byte[] model, OrtSession.SessionOptions options) throws OrtException {
        OrtSession s = env.createSession(model, options);
        SESSIONS.incrementAndGet();
        return s;
    }

    static void close(OrtSession s) throws OrtException {
        try {
            s.close();
        } finally {
            SESSIONS.decrementAndGet();
        }
    }

    /** A tensor over a direct buffer (no copy). */
    static OnnxTensor tensor(OrtEnvironment env, ByteBuffer b, long[] shape, OnnxJavaType type) throws OrtException {
        OnnxTensor t = OnnxTensor.createTensor(env, b, shape, type);
        TENSORS.incrementAndGet();
        return t;
    }

    static void close(OnnxValue t) {
        try {
            t.close();
        } finally {
            TENSORS.decrementAndGet();
        }
    }

    /** Runs a session; the result counts as open until the returned {@link Run} is closed. */
    static Run run(
            OrtSession s,
            Map<String, ? extends OnnxTensorLike> inputs,
            Set<String> outputs,
            Map<String, ? extends OnnxValue> pinned)
            throws OrtException {
        return new Run(s.run(inputs, outputs, pinned));
    }

    /** Runs a session for all its outputs; see {@link #run(OrtSession, Map, Set, Map)}. */
    static Run run(OrtSession s, Map<String, ? extends OnnxTensorLike> inputs) throws OrtException {
        return new Run(s.run(inputs));
    }

    /** A run's result, closed (and counted closed) with this. */
    static final class Run implements AutoCloseable {
        final OrtSession.Result result;

        private Run(OrtSession.Result result) {
            this.result = result;
            RESULTS.incrementAndGet();
        }

        /** The output of that name. */
        OnnxTensor tensor(String name) {
            return (OnnxTensor) result.get(name).orElseThrow();
        }

        @Override
        public void close() {
            try {
                result.close();
            } finally {
                RESULTS.decrementAndGet();
            }
        }
    }
}
