// ProxyCredentials.java - a -javaagent that lets a JVM debuggee authenticate to the session's local HTTP
// proxy. The JVM reads its proxy from system properties (http.proxyHost, which Tether sets through
// JDK_JAVA_OPTIONS) but has no property for proxy credentials: only a java.net.Authenticator can answer a
// 407. This agent installs one that answers exactly the session's proxy (127.0.0.1 and the proxy's port)
// with the credentials of the HTTP_PROXY URL in the process's environment, and nobody else.
//
// The credentials are read from the environment, never from the agent's arguments, which other users of
// the machine can see in the process's command line.
package dev.tether.agent;

import java.net.Authenticator;
import java.net.PasswordAuthentication;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;

public final class ProxyCredentials extends Authenticator {
  private final int port;
  private final String user;
  private final char[] password;

  private ProxyCredentials(int port, String user, char[] password) {
    this.port = port;
    this.user = user;
    this.password = password;
  }

  public static void premain(String arguments) {
    final ProxyCredentials credentials = fromUrl(System.getenv("HTTP_PROXY"));
    if (credentials == null) {
      System.err.println("tether: HTTP_PROXY holds no proxy credentials for 127.0.0.1; the JVM's proxy "
          + "requests will be refused with 407 (start this process with the session's launch environment)");
      return;
    }
    Authenticator.setDefault(credentials);
  }

  // The credentials of an http://user:password@127.0.0.1:port URL, or null.
  static ProxyCredentials fromUrl(String url) {
    if (url == null || url.isEmpty()) return null;
    try {
      final URI uri = new URI(url);
      final String info = uri.getRawUserInfo();
      if (!"http".equals(uri.getScheme()) || !"127.0.0.1".equals(uri.getHost()) || uri.getPort() <= 0
          || info == null || info.indexOf(':') < 0) {
        return null;
      }
      final String user = decode(info.substring(0, info.indexOf(':')));
      final String password = decode(info.substring(info.indexOf(':') + 1));
      return new ProxyCredentials(uri.getPort(), user, password.toCharArray());
    } catch (Exception malformed) {
      return null;
    }
  }

  private static String decode(String text) {
    return URLDecoder.decode(text, StandardCharsets.UTF_8);
  }

  @Override
  protected PasswordAuthentication getPasswordAuthentication() {
    // Only the session's proxy is answered: a server, or any other proxy, never sees these credentials.
    final boolean ours = getRequestorType() == RequestorType.PROXY && getRequestingPort() == port
        && "127.0.0.1".equals(getRequestingHost());
    return ours ? new PasswordAuthentication(user, password.clone()) : null;
  }
}
