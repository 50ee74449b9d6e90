import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The Java client as a producer for test/integration/codecs.test.ts: its snappy is the xerial framing, which
 * librdkafka does not write. Reads lines "codec TAB partition TAB key TAB value" from stdin and sends each line
 * with a producer configured for that codec (one producer per codec, batched with a linger).
 *
 *   java -cp "<kafka libs>/*" CompressedProducer.java BROKERS TOPIC < lines
 */
public class CompressedProducer {
  public static void main(String[] args) throws Exception {
    var producers = new java.util.HashMap<String, KafkaProducer<String, String>>();
    try (var in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
      for (String line; (line = in.readLine()) != null; ) {
        if (line.isEmpty()) continue;
        String[] f = line.split("\t", 4);
        var producer = producers.computeIfAbsent(f[0], codec -> {
          var p = new Properties();
          p.put("bootstrap.servers", args[0]);
          p.put("compression.type", codec);
          p.put("linger.ms", "50");
          p.put("key.serializer", StringSerializer.class.getName());
          p.put("value.serializer", StringSerializer.class.getName());
          return new KafkaProducer<>(p);
        });
        producer.send(new ProducerRecord<>(args[1], Integer.parseInt(f[1]), f[2], f[3]));
      }
    }
    for (var p : producers.values()) p.close();
  }
}
