package dev.forge.cli;

import dev.forge.compiler.train.Loss;
import dev.forge.compiler.train.Optimizer;
import dev.forge.compiler.train.Replicas;
import dev.forge.compiler.train.Schedule;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * The command line's spellings of training settings and their picocli converters: a bad value is a usage
 * error (exit code 2) that lists the valid choices, and the choices are shell-completion candidates. The
 * library itself takes typed values only ({@code Optimizer.adam(0.01)}, {@link Loss#CROSS_ENTROPY},
 * {@code Schedule.cosine(10)}).
 */
final class TrainArguments {
    private TrainArguments() {}

    /** An optimizer by name, with PyTorch's defaults for what the command line does not give. */
    enum OptimizerName {
        SGD,
        MOMENTUM,
        NESTEROV,
        RMSPROP,
        ADAGRAD,
        ADAM,
        ADAMW;

        /** The spelling on the command line, e.g. {@code adamw}. */
        String cliName() {
            return name().toLowerCase(Locale.ROOT);
        }

        /**
         * The optimizer.
         *
         * @param lr learning rate
         * @param momentum --momentum, or null (0 for sgd, 0.9 for momentum and nesterov; PyTorch has no default)
         * @param weightDecay --weight-decay, or null (0, and 0.01 for adamw as in PyTorch)
         */
        Optimizer create(double lr, Double momentum, Double weightDecay) {
            Optimizer o = switch (this) {
                case SGD -> momentum == null || momentum == 0 ? Optimizer.sgd(lr) : Optimizer.momentum(lr, momentum);
                case MOMENTUM -> Optimizer.momentum(lr, momentum == null ? 0.9 : momentum);
                case NESTEROV -> Optimizer.nesterov(lr, momentum == null ? 0.9 : momentum);
                case RMSPROP -> Optimizer.rmsprop(lr);
                case ADAGRAD -> Optimizer.adagrad(lr);
                case ADAM -> Optimizer.adam(lr);
                case ADAMW -> Optimizer.adamw(lr);
            };
            return weightDecay == null ? o : o.withWeightDecay(weightDecay);
        }

        /** The name of a typed optimizer: what {@code --optimizer} would have to say to make it. */
        static OptimizerName of(Optimizer o) {
            if (o instanceof Optimizer.Sgd s) {
                return s.nesterov() ? NESTEROV : s.momentum() != 0 ? MOMENTUM : SGD;
            } else if (o instanceof Optimizer.RmsProp) {
                return RMSPROP;
            } else if (o instanceof Optimizer.Adagrad) {
                return ADAGRAD;
            } else {
                return ((Optimizer.Adam) o).decoupled() ? ADAMW : ADAM;
            }
        }

        /** The momentum of a typed optimizer as a default for {@code --momentum}: null when it has none. */
        static Double momentumOf(Optimizer o) {
            return o instanceof Optimizer.Sgd s && s.momentum() != 0 ? s.momentum() : null;
        }

        static String choices() {
            return String.join(", ", names(values()));
        }
    }

    private static List<String> names(OptimizerName[] values) {
        List<String> out = new ArrayList<>();
        for (OptimizerName v : values) {
            out.add(v.cliName());
        }
        return out;
    }

    private static List<String> lossNames() {
        List<String> out = new ArrayList<>();
        for (Loss l : Loss.values()) {
            out.add(l.cliName());
        }
        return out;
    }

    /** --optimizer. */
    static final class OptimizerConverter implements ITypeConverter<OptimizerName> {
        @Override
        public OptimizerName convert(String value) {
            for (OptimizerName o : OptimizerName.values()) {
                if (o.cliName().equalsIgnoreCase(value.trim())) {
                    return o;
                }
            }
            throw new TypeConversionException(
                    "unknown optimizer '" + value + "'; choose one of " + OptimizerName.choices());
        }
    }

    /** Completion candidates of --optimizer. */
    static final class OptimizerNames implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return names(OptimizerName.values()).iterator();
        }
    }

    /** --loss. */
    static final class LossConverter implements ITypeConverter<Loss> {
        @Override
        public Loss convert(String value) {
            for (Loss l : Loss.values()) {
                if (l.cliName().equalsIgnoreCase(value.trim()) || l.name().equalsIgnoreCase(value.trim())) {
                    return l;
                }
            }
            throw new TypeConversionException(
                    "unknown loss '" + value + "'; choose one of " + String.join(", ", lossNames()));
        }
    }

    /** Completion candidates of --loss. */
    static final class LossNames implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return lossNames().iterator();
        }
    }

    /** --schedule: {@code constant}, {@code step:SIZE[:GAMMA]} (gamma 0.1) or {@code cosine:T_MAX[:ETA_MIN]}. */
    static final class ScheduleConverter implements ITypeConverter<Schedule> {
        static final String FORMS = "constant, step:SIZE[:GAMMA] or cosine:T_MAX[:ETA_MIN]";

        @Override
        public Schedule convert(String text) {
            String[] p = text.trim().toLowerCase(Locale.ROOT).split(":");
            try {
                return switch (p[0]) {
                    case "constant", "none" -> Schedule.constant();
                    case "step" -> Schedule.step(Integer.parseInt(p[1]), p.length > 2 ? Double.parseDouble(p[2]) : 0.1);
                    case "cosine" ->
                        Schedule.cosine(Integer.parseInt(p[1]), p.length > 2 ? Double.parseDouble(p[2]) : 0);
                    default -> throw new IllegalArgumentException("unknown kind");
                };
            } catch (RuntimeException e) {
                throw new TypeConversionException("bad schedule '" + text + "'; use " + FORMS);
            }
        }
    }

    /** Completion candidates of --schedule. */
    static final class ScheduleForms implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return List.of("constant", "step:", "cosine:").iterator();
        }
    }

    /** A whole number of at least 1: --batch, --epochs, --micro-batch, --num-classes. Picocli names the option in its usage error. */
    static final class AtLeastOne implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String text) {
            try {
                int n = Integer.parseInt(text.trim());
                if (n >= 1) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // the message below
            }
            throw new TypeConversionException("'" + text + "' is not a whole number >= 1");
        }
    }

    /** A count of at least 1 that may exceed an int: --steps. */
    static final class AtLeastOneLong implements ITypeConverter<Long> {
        @Override
        public Long convert(String text) {
            try {
                long n = Long.parseLong(text.trim());
                if (n >= 1) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // the message below
            }
            throw new TypeConversionException("'" + text + "' is not a whole number >= 1");
        }
    }

    /** A finite number above 0: --lr. */
    static final class PositiveRate implements ITypeConverter<Double> {
        @Override
        public Double convert(String text) {
            try {
                double x = Double.parseDouble(text.trim());
                if (x > 0 && Double.isFinite(x)) {
                    return x;
                }
            } catch (NumberFormatException e) {
                // the message below
            }
            throw new TypeConversionException(
                    "'" + text + "' is not a learning rate; give a finite number > 0, e.g. 0.01");
        }
    }

    /** A finite number of at least 0: --momentum, --weight-decay. */
    static final class NonNegative implements ITypeConverter<Double> {
        @Override
        public Double convert(String text) {
            try {
                double x = Double.parseDouble(text.trim());
                if (x >= 0 && Double.isFinite(x)) {
                    return x;
                }
            } catch (NumberFormatException e) {
                // the message below
            }
            throw new TypeConversionException("'" + text + "' is not a finite number >= 0");
        }
    }

    /** --replicas: a count of at least 1, or auto. */
    static final class ReplicasConverter implements ITypeConverter<Replicas> {
        @Override
        public Replicas convert(String text) {
            try {
                return Replicas.parse(text);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    /** --data: checks the kind of data set before anything is loaded ({@link DataSpec#HELP}). */
    static final class DataConverter implements ITypeConverter<String> {
        @Override
        public String convert(String text) {
            String kind = text.contains(":") ? text.substring(0, text.indexOf(':')) : text;
            if (!DataSpec.KINDS.contains(kind)) {
                throw new TypeConversionException("unknown data set '" + text + "'; use " + DataSpec.HELP);
            }
            return text;
        }
    }

    /** Completion candidates of --data. */
    static final class DataKinds implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return List.of("mnist", "fashion-mnist", "fashion-mnist:", "cifar10:", "folder:", "npy:", "random")
                    .iterator();
        }
    }
}
