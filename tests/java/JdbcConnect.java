// Connects the way a JDBC-based GUI hands a connection to its driver: a JDBC URL and driver
// properties exactly as given, the password (if any) read from stdin so that it never sits on a
// command line. Prints who the server says we are and whether the session is encrypted, as
// "driver<TAB>user<TAB>tls=yes|no"; on failure, the driver's messages (and their causes) on stderr
// and exit 1.
//
// Run with single-file source launch: java -cp DRIVER.jar JdbcConnect.java URL [key=value]...

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

public class JdbcConnect {
    private static final String POSTGRES_QUERY =
        "select current_user, case when ssl then 'yes' else 'no' end"
            + " from pg_stat_ssl where pid = pg_backend_pid()";
    private static final String MARIADB_QUERY =
        "select current_user(), if(variable_value <> '', 'yes', 'no')"
            + " from information_schema.session_status where variable_name = 'Ssl_cipher'";

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: JdbcConnect URL [key=value]... < password");
            System.exit(2);
        }
        String url = args[0];
        Properties properties = new Properties();
        for (int i = 1; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            if (eq < 1) {
                System.err.println("not key=value: " + args[i]);
                System.exit(2);
            }
            properties.setProperty(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        String password = new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
        password = password.replaceAll("\\r?\\n$", "");
        // No password at all lets a driver look for one itself (pgjdbc reads ~/.pgpass).
        if (!password.isEmpty()) {
            properties.setProperty("password", password);
        }
        String query = url.startsWith("jdbc:postgresql:") ? POSTGRES_QUERY : MARIADB_QUERY;
        try (Connection connection = DriverManager.getConnection(url, properties);
             Statement statement = connection.createStatement();
             ResultSet row = statement.executeQuery(query)) {
            if (!row.next()) {
                System.err.println("the query returned no row");
                System.exit(1);
            }
            String driver = connection.getMetaData().getDriverName();
            System.out.println(driver + "\t" + row.getString(1) + "\ttls=" + row.getString(2));
        } catch (SQLException e) {
            for (Throwable cause = e; cause != null; cause = cause.getCause()) {
                System.err.println(cause.getClass().getName() + ": " + cause.getMessage());
            }
            System.exit(1);
        }
    }
}
