package dev.forge.spark;

import dev.forge.runtime.DType;
import dev.forge.runtime.ImagePreprocessing;
import dev.forge.runtime.Model;
import dev.forge.runtime.ModelOptions;
import dev.forge.runtime.TensorSpec;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsReader$;
import org.apache.spark.ml.util.DefaultParamsWriter$;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWritable;
import org.apache.spark.ml.util.MLWriter;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import scala.Option;

/**
 * A Spark ML {@code Transformer} that scores a DataFrame with an ONNX model on Forge's runtime: it appends a
 * prediction column (the top-1 class, every class's probability, the top k, or the raw scores) computed from an
 * input column of images.
 *
 * <pre>{@code
 * ForgeModelTransformer scorer = new ForgeModelTransformer()
 *         .setModelPath("hdfs:///models/mnist.onnx")
 *         .setInputCol("image").setOutputCol("prediction").setOutput("label").setBatchSize(64);
 * Dataset<Row> scored = scorer.transform(images);              // or as a stage of a Pipeline
 * }</pre>
 *
 * <p>The input column is {@code array<float>} (a sample's tensor flattened row-major, already prepared as the
 * model was trained: {@link dev.forge.spark.data.ImageTables}), {@code array<double>} (rounded to float32), or
 * {@code binary} (a PNG or JPEG, prepared by the model's stored image preprocessing, or when it stores none,
 * center-cropped to the input size and scaled to [0, 1]). The model has one float32 input with a free batch axis.
 *
 * <p>How it runs: the model bytes are broadcast once; each executor JVM loads one runtime {@link Model} per model
 * and shares it between its tasks ({@link ExecutorModels}); each partition is read in batches of {@code
 * batchSize} rows, and each batch is one model run. A malformed row (a null, an array of the wrong length, a
 * non-finite value, bytes that are not an image) fails its task with a {@link MalformedRowException} naming the
 * row's id; with {@code errorCol} set, it gets a null prediction and the reason in that column instead.
 *
 * <p>Outputs ({@code output}): {@code label} the top-1 class index ({@code int}); {@code probabilities} every
 * class's probability ({@code array<float>}: the model's output when it already is probabilities, else its
 * softmax, by {@link Model#topK}'s rule); {@code topk} the {@code k} most likely classes ({@code
 * array<struct<index:int,label:string,probability:float>>}, labels from the model's {@code class_labels});
 * {@code scores} the model's first output exactly as {@link Model#run} returns it, flattened per row ({@code
 * array<float>}).
 *
 * <p>The output keeps every input column; {@code keepInputCol = false} drops the input column (the prediction
 * may then take its name), which spares copying each image into its output row.
 *
 * <p>Saved with a {@code Pipeline} (or {@link #save}) as Spark's parameter metadata plus the model as {@code
 * model.onnx} in the same directory; {@link #load} and {@code PipelineModel.load} read it back.
 */
public final class ForgeModelTransformer extends Transformer implements MLWritable {
    private static final long serialVersionUID = 1L;
    /** The output forms {@code output} takes. */
    public static final List<String> OUTPUTS = List.of("label", "probabilities", "topk", "scores");
    /** The model's file name in a saved transformer's directory. */
    static final String MODEL_FILE = "model.onnx";

    private final String uid;
    private final Param<String> inputCol;
    private final Param<String> outputCol;
    private final Param<String> output;
    private final IntParam k;
    private final IntParam batchSize;
    private final Param<String> errorCol;
    private final Param<String> idCol;
    private final IntParam intraOpThreads;
    private final BooleanParam rejectNonFinite;
    private final BooleanParam keepInputCol;

    private byte[] modelBytes;
    private String modelHash;
    private transient Signature signature;
    private transient Broadcast<byte[]> broadcast;
    private transient SparkContext broadcastContext;

    /** A transformer with a random uid; set its model with {@link #setModel} or {@link #setModelPath}. */
    public ForgeModelTransformer() {
        this(Identifiable$.MODULE$.randomUID("forgeModel"));
    }

    /**
     * A transformer with the given uid (Spark's readers create stages this way).
     *
     * @param uid the stage's unique id
     */
    public ForgeModelTransformer(String uid) {
        this.uid = Objects.requireNonNull(uid, "uid");
        inputCol = new Param<>(this, "inputCol", "the input column: array<float>, array<double> or binary (PNG/JPEG)");
        outputCol = new Param<>(this, "outputCol", "the prediction column to add");
        output = new Param<>(this, "output", "the prediction's form: " + String.join(", ", OUTPUTS));
        k = new IntParam(this, "k", "how many classes output=topk keeps (>= 1)", ParamValidators.gtEq(1));
        batchSize = new IntParam(this, "batchSize", "rows per model run (>= 1)", ParamValidators.gtEq(1));
        errorCol = new Param<>(
                this,
                "errorCol",
                "a string column for the reason a row is malformed (its prediction then null); unset: a malformed"
                        + " row fails the task");
        idCol = new Param<>(this, "idCol", "the column that names a row in error messages, if the table has it");
        intraOpThreads = new IntParam(
                this,
                "intraOpThreads",
                "ONNX Runtime intra-op threads of each executor's session; 0: spark.task.cpus",
                ParamValidators.gtEq(0));
        rejectNonFinite = new BooleanParam(
                this, "rejectNonFinite", "whether a NaN or infinite input value makes a row malformed");
        keepInputCol = new BooleanParam(
                this,
                "keepInputCol",
                "whether the output keeps the input column (false: the prediction replaces it, and the image is"
                        + " not copied into every output row)");
        setDefault(inputCol, "image");
        setDefault(outputCol, "prediction");
        setDefault(output, "label");
        setDefault(k, 5);
        setDefault(batchSize, 64);
        setDefault(idCol, "id");
        setDefault(intraOpThreads, 0);
        setDefault(rejectNonFinite, true);
        setDefault(keepInputCol, true);
    }

    @Override
    public String uid() {
        return uid;
    }

    // ================================================================ the model

    /**
     * Sets the model from its ONNX bytes (kept, and broadcast to the executors when transforming).
     *
     * @param bytes the ONNX model
     * @return this
     */
    public ForgeModelTransformer setModel(byte[] bytes) {
        Objects.requireNonNull(bytes, "bytes");
        this.modelBytes = bytes.clone();
        this.modelHash = ExecutorModels.sha256(modelBytes);
        this.signature = null;
        this.broadcast = null;
        return this;
    }

    /**
     * Reads the model from a file on any Hadoop file system the driver can read ({@code hdfs://}, {@code s3a://},
     * a local path).
     *
     * @param path the {@code .onnx} file
     * @return this
     */
    public ForgeModelTransformer setModelPath(String path) {
        Path p = new Path(path);
        try {
            Option<SparkSession> active = SparkSession.getActiveSession();
            Configuration conf =
                    active.isDefined() ? active.get().sparkContext().hadoopConfiguration() : new Configuration();
            FileSystem fs = p.getFileSystem(conf);
            try (InputStream in = fs.open(p)) {
                return setModel(in.readAllBytes());
            }
        } catch (IOException e) {
            throw new IllegalArgumentException(uid + ": cannot read the model " + path + ": " + e.getMessage(), e);
        }
    }

    /** The model's bytes (a copy). */
    public byte[] getModel() {
        return requireModel().clone();
    }

    /** The hex SHA-256 of the model's bytes, the key of the executors' model cache. */
    public String getModelHash() {
        requireModel();
        return modelHash;
    }

    private byte[] requireModel() {
        if (modelBytes == null) {
            throw new IllegalStateException(uid + ": no model; call setModel(bytes) or setModelPath(path) first");
        }
        return modelBytes;
    }

    // ================================================================ parameters

    /** The input column: {@code array<float>}, {@code array<double>} or {@code binary}. Default {@code image}. */
    public Param<String> inputCol() {
        return inputCol;
    }

    /** The prediction column to add. Default {@code prediction}. */
    public Param<String> outputCol() {
        return outputCol;
    }

    /** The prediction's form: {@code label}, {@code probabilities}, {@code topk} or {@code scores}. */
    public Param<String> output() {
        return output;
    }

    /** How many classes {@code output = topk} keeps. Default 5. */
    public IntParam k() {
        return k;
    }

    /** Rows per model run. Default 64. */
    public IntParam batchSize() {
        return batchSize;
    }

    /** The error column; unset (the default), a malformed row fails its task. */
    public Param<String> errorCol() {
        return errorCol;
    }

    /** The column that names a row in messages, used when the table has it. Default {@code id}. */
    public Param<String> idCol() {
        return idCol;
    }

    /** ONNX Runtime intra-op threads per executor session; 0 (the default) takes {@code spark.task.cpus}. */
    public IntParam intraOpThreads() {
        return intraOpThreads;
    }

    /** Whether a NaN or infinite input value makes a row malformed. Default true. */
    public BooleanParam rejectNonFinite() {
        return rejectNonFinite;
    }

    /**
     * Whether the output keeps the input column. Default true; false drops it, which spares copying every image
     * into its output row when only the prediction and the other columns are wanted (docs/SCALING.md).
     */
    public BooleanParam keepInputCol() {
        return keepInputCol;
    }

    public ForgeModelTransformer setInputCol(String value) {
        set(inputCol, value);
        return this;
    }

    public ForgeModelTransformer setOutputCol(String value) {
        set(outputCol, value);
        return this;
    }

    public ForgeModelTransformer setOutput(String value) {
        set(output, value);
        return this;
    }

    public ForgeModelTransformer setK(int value) {
        set(k, value);
        return this;
    }

    public ForgeModelTransformer setBatchSize(int value) {
        set(batchSize, value);
        return this;
    }

    public ForgeModelTransformer setErrorCol(String value) {
        set(errorCol, value);
        return this;
    }

    public ForgeModelTransformer setIdCol(String value) {
        set(idCol, value);
        return this;
    }

    public ForgeModelTransformer setIntraOpThreads(int value) {
        set(intraOpThreads, value);
        return this;
    }

    public ForgeModelTransformer setRejectNonFinite(boolean value) {
        set(rejectNonFinite, value);
        return this;
    }

    public ForgeModelTransformer setKeepInputCol(boolean value) {
        set(keepInputCol, value);
        return this;
    }

    public String getInputCol() {
        return getOrDefault(inputCol);
    }

    public String getOutputCol() {
        return getOrDefault(outputCol);
    }

    public String getOutput() {
        return getOrDefault(output);
    }

    public int getK() {
        return (Integer) getOrDefault(k);
    }

    public int getBatchSize() {
        return (Integer) getOrDefault(batchSize);
    }

    /** The error column, or null when unset. */
    public String getErrorCol() {
        return isDefined(errorCol) ? getOrDefault(errorCol) : null;
    }

    public String getIdCol() {
        return getOrDefault(idCol);
    }

    public int getIntraOpThreads() {
        return (Integer) getOrDefault(intraOpThreads);
    }

    public boolean getRejectNonFinite() {
        return (Boolean) getOrDefault(rejectNonFinite);
    }

    public boolean getKeepInputCol() {
        return (Boolean) getOrDefault(keepInputCol);
    }

    // ================================================================ transforming

    @Override
    public StructType transformSchema(StructType schema) {
        return plan(schema, 1).outputSchema;
    }

    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        SparkContext sc = dataset.sparkSession().sparkContext();
        int threads =
                getIntraOpThreads() > 0 ? getIntraOpThreads() : sc.getConf().getInt("spark.task.cpus", 1);
        Planned p = plan(dataset.schema(), threads);
        if (!(dataset instanceof org.apache.spark.sql.classic.Dataset<?> classic)) {
            throw new IllegalArgumentException("ForgeModelTransformer(" + uid + ") runs in the Spark application"
                    + " (classic Spark SQL), not through a Spark Connect client; got a "
                    + dataset.getClass().getName());
        }
        // Spark's internal rows in and out (see PartitionScorer): the scan's rows, scored per partition, become
        // a DataFrame of the output schema again
        RDD<InternalRow> scored = classic.queryExecution()
                .toRdd()
                .toJavaRDD()
                .mapPartitions(new PartitionScorer(broadcast(sc), p.plan))
                .rdd();
        return classic.sparkSession().internalCreateDataFrame(scored, p.outputSchema, false);
    }

    /** The model bytes as a broadcast of this Spark context, made once per transformer and context. */
    private synchronized Broadcast<byte[]> broadcast(SparkContext sc) {
        if (broadcast == null || broadcastContext != sc || sc.isStopped()) {
            broadcast = JavaSparkContext.fromSparkContext(sc).broadcast(requireModel());
            broadcastContext = sc;
        }
        return broadcast;
    }

    private record Planned(ScoringPlan plan, StructType outputSchema) {}

    /** Checks the schema and parameters against the model; the task plan and the output schema. */
    private Planned plan(StructType schema, int threads) {
        Signature sig = signature();
        String name = "ForgeModelTransformer(" + uid + ")";
        String in = getInputCol();
        List<String> columns = Arrays.asList(schema.fieldNames());
        if (!columns.contains(in)) {
            throw new IllegalArgumentException(name + ": no input column '" + in + "'; the columns are " + columns
                    + " (setInputCol names the image column)");
        }
        DataType type = schema.apply(in).dataType();
        ScoringPlan.InputKind kind;
        if (type instanceof ArrayType a && a.elementType().equals(DataTypes.FloatType)) {
            kind = ScoringPlan.InputKind.FLOAT_ARRAY;
        } else if (type instanceof ArrayType a && a.elementType().equals(DataTypes.DoubleType)) {
            kind = ScoringPlan.InputKind.DOUBLE_ARRAY;
        } else if (type.equals(DataTypes.BinaryType)) {
            kind = ScoringPlan.InputKind.IMAGE_BYTES;
            imagePreprocessing(sig.preprocessing, sig.inputShape, sig.source);
        } else {
            throw new IllegalArgumentException(name + ": input column '" + in + "' is " + type.simpleString()
                    + "; expected array<float>, array<double> or binary (an encoded PNG or JPEG)");
        }
        String outCol = getOutputCol();
        String errCol = getErrorCol();
        for (String c : errCol == null ? List.of(outCol) : List.of(outCol, errCol)) {
            if (columns.contains(c) && (getKeepInputCol() || !c.equals(in))) {
                throw new IllegalArgumentException(
                        name + ": the table already has a column '" + c + "'; choose another output or error column");
            }
        }
        if (outCol.equals(errCol)) {
            throw new IllegalArgumentException(name + ": output and error column are both '" + outCol + "'");
        }
        String form = getOutput().toLowerCase(Locale.ROOT);
        if (!OUTPUTS.contains(form)) {
            throw new IllegalArgumentException(
                    name + ": output '" + getOutput() + "' is not one of " + OUTPUTS + " (setOutput)");
        }
        ScoringPlan.Output out = ScoringPlan.Output.valueOf(form.toUpperCase(Locale.ROOT));
        if (out != ScoringPlan.Output.SCORES && sig.classes < 0) {
            throw new IllegalArgumentException(name + ": output=" + form + " needs a first output [batch, classes] of"
                    + " float type with a fixed number of classes, but " + sig.source + " has " + sig.firstOutput
                    + "; use output=scores for the raw output");
        }
        if (out == ScoringPlan.Output.TOPK && getK() > sig.classes) {
            throw new IllegalArgumentException(name + ": k = " + getK() + " but the model has " + sig.classes
                    + " classes; set k between 1 and " + sig.classes);
        }
        int batch = getBatchSize();
        long fixedBatch = sig.inputShape[0];
        if (fixedBatch == 1) {
            batch = 1;
        } else if (fixedBatch > 1) {
            throw new IllegalArgumentException(name + ": the model input " + sig.input + " has a fixed batch of "
                    + fixedBatch + "; export it with a free batch axis (Forge's export keeps N symbolic)");
        }
        int idIndex = columns.indexOf(getIdCol());
        int inputIndex = schema.fieldIndex(in);
        boolean elementsNullable = type instanceof ArrayType a && a.containsNull();
        int[] kept = null;
        DataType[] keptTypes = null;
        StructType base = schema;
        if (!getKeepInputCol()) {
            kept = new int[schema.size() - 1];
            keptTypes = new DataType[kept.length];
            base = new StructType();
            for (int i = 0, j = 0; i < schema.size(); i++) {
                if (i != inputIndex) {
                    kept[j] = i;
                    keptTypes[j++] = schema.fields()[i].dataType();
                    base = base.add(schema.fields()[i]);
                }
            }
        }
        ScoringPlan plan = new ScoringPlan(
                name,
                modelHash,
                threads,
                in,
                inputIndex,
                kind,
                idIndex,
                idIndex >= 0 ? schema.fields()[idIndex].dataType() : null,
                sig.inputShape,
                sig.sampleSize,
                batch,
                out,
                getK(),
                sig.classes,
                errCol != null,
                getRejectNonFinite(),
                elementsNullable,
                kept,
                keptTypes);
        DataType predictionType = switch (out) {
            case LABEL -> DataTypes.IntegerType;
            case PROBABILITIES, SCORES -> DataTypes.createArrayType(DataTypes.FloatType, false);
            case TOPK ->
                DataTypes.createArrayType(
                        DataTypes.createStructType(new StructField[] {
                            DataTypes.createStructField("index", DataTypes.IntegerType, false),
                            DataTypes.createStructField("label", DataTypes.StringType, false),
                            DataTypes.createStructField("probability", DataTypes.FloatType, false)
                        }),
                        false);
        };
        StructType result = base.add(DataTypes.createStructField(outCol, predictionType, errCol != null));
        if (errCol != null) {
            result = result.add(DataTypes.createStructField(errCol, DataTypes.StringType, true));
        }
        return new Planned(plan, result);
    }

    /** What the driver needs to know of the model, read once from a session that is closed again. */
    private record Signature(
            String source,
            TensorSpec input,
            long[] inputShape,
            int sampleSize,
            TensorSpec firstOutput,
            int classes,
            ImagePreprocessing preprocessing) {}

    private synchronized Signature signature() {
        if (signature != null) {
            return signature;
        }
        String source = "model " + getModelHash().substring(0, 12);
        // a session of its own, closed at once: the driver only reads the signature, and the executors' cache
        // (the same JVM in local mode) then counts the loads of the tasks alone
        try (Model m = Model.load(
                requireModel(), source, ModelOptions.builder().intraOpThreads(1).build())) {
            if (m.inputs().size() != 1 || m.inputs().get(0).dtype() != DType.FLOAT32) {
                throw new IllegalArgumentException("ForgeModelTransformer(" + uid + "): " + source
                        + " must have one float32 input, but has " + m.inputs());
            }
            TensorSpec input = m.inputs().get(0);
            long[] shape = input.shape();
            long size = 1;
            for (int i = 1; i < shape.length; i++) {
                if (shape[i] < 0) {
                    throw new IllegalArgumentException("ForgeModelTransformer(" + uid + "): " + source + " input "
                            + input + " has a free dimension besides the batch axis; every row must have one size");
                }
                size *= shape[i];
            }
            if (shape.length < 1 || size > Integer.MAX_VALUE / 8) {
                throw new IllegalArgumentException("ForgeModelTransformer(" + uid + "): " + source + " input " + input
                        + " is not a batch of rows");
            }
            TensorSpec first = m.outputs().get(0);
            int classes = first.rank() == 2 && first.dtype().isFloatingPoint() && first.shape()[1] > 0
                    ? (int) first.shape()[1]
                    : -1;
            ImagePreprocessing pre = m.imagePreprocessing().orElse(null);
            signature = new Signature(source, input, shape, (int) size, first, classes, pre);
            return signature;
        }
    }

    /**
     * The preprocessing of encoded images for a model: its stored one, else a center crop to the input's height
     * and width with values scaled to [0, 1] (how Forge's data loader feeds MNIST-like images).
     */
    static ImagePreprocessing imagePreprocessing(Model model, long[] inputShape) {
        return imagePreprocessing(model.imagePreprocessing().orElse(null), inputShape, model.sourceName());
    }

    private static ImagePreprocessing imagePreprocessing(ImagePreprocessing stored, long[] shape, String source) {
        if (stored != null) {
            return stored;
        }
        if (shape.length != 4 || (shape[1] != 1 && shape[1] != 3)) {
            throw new IllegalArgumentException(source + " stores no image preprocessing and its input "
                    + Arrays.toString(shape) + " is not [N, 1 or 3, H, W]; binary images need one: export the model"
                    + " with ExportOptions.preprocessing (forge export --preprocess)");
        }
        return ImagePreprocessing.builder()
                .crop((int) shape[2], (int) shape[3])
                .color(shape[1] == 1 ? ImagePreprocessing.Color.GRAY : ImagePreprocessing.Color.RGB)
                .build();
    }

    @Override
    public ForgeModelTransformer copy(ParamMap extra) {
        ForgeModelTransformer t = new ForgeModelTransformer(uid);
        if (modelBytes != null) {
            t.modelBytes = modelBytes;
            t.modelHash = modelHash;
            t.signature = signature;
        }
        copyValues(t, extra);
        return t;
    }

    // ================================================================ saving and loading

    @Override
    public MLWriter write() {
        return new Writer(this);
    }

    /**
     * Spark's reader of saved transformers (found by {@code Pipeline} loading through this static method).
     *
     * @return the reader
     */
    public static MLReader<ForgeModelTransformer> read() {
        return new Reader();
    }

    /**
     * Loads a transformer saved with {@link #save(String)}.
     *
     * @param path its directory
     * @return the transformer
     */
    public static ForgeModelTransformer load(String path) {
        return read().load(path);
    }

    private static final class Writer extends MLWriter {
        private final ForgeModelTransformer instance;

        Writer(ForgeModelTransformer instance) {
            this.instance = instance;
        }

        @Override
        public void saveImpl(String path) {
            byte[] bytes = instance.requireModel();
            DefaultParamsWriter$.MODULE$.saveMetadata(instance, path, sparkSession());
            Path file = new Path(path, MODEL_FILE);
            try (OutputStream out =
                    file.getFileSystem(sc().hadoopConfiguration()).create(file, false)) {
                out.write(bytes);
            } catch (IOException e) {
                throw new IllegalStateException("cannot write " + file + ": " + e.getMessage(), e);
            }
        }
    }

    private static final class Reader extends MLReader<ForgeModelTransformer> {
        @Override
        public ForgeModelTransformer load(String path) {
            DefaultParamsReader.Metadata md = DefaultParamsReader$.MODULE$.loadMetadata(
                    path, sparkSession(), ForgeModelTransformer.class.getName());
            ForgeModelTransformer t = new ForgeModelTransformer(md.uid());
            md.getAndSetParams(t, Option.empty());
            Path file = new Path(path, MODEL_FILE);
            try (InputStream in = file.getFileSystem(sc().hadoopConfiguration()).open(file)) {
                ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                in.transferTo(bytes);
                return t.setModel(bytes.toByteArray());
            } catch (IOException e) {
                throw new IllegalArgumentException(
                        "cannot read the model of the saved transformer " + file + ": " + e.getMessage(), e);
            }
        }
    }
}
