//! Splunk chunked search command protocol v2 (SCP v2). Knows nothing of T1651.
