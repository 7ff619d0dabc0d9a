-- The demo schema of compose.yaml, run once by the MySQL image on an empty data volume.
-- Sluice reads the binlog as a replica: its user needs REPLICATION SLAVE and REPLICATION CLIENT,
-- and SELECT to read table definitions.
CREATE DATABASE IF NOT EXISTS demo;

CREATE TABLE demo.orders (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  customer VARCHAR(64) NOT NULL,
  amount DECIMAL(10, 2) NOT NULL,
  status VARCHAR(16) NOT NULL DEFAULT 'new',
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
);

INSERT INTO demo.orders (customer, amount) VALUES ('customer-1', 10.25), ('customer-2', 99.90);

-- Demo credentials: change them (and deploy/demo-task.toml) for anything but a demo.
CREATE USER 'sluice'@'%' IDENTIFIED BY 'sluice-demo';
GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO 'sluice'@'%';
