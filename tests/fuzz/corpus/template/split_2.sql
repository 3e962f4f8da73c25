INSERT INTO t VALUES (1,'a;'),(2,NOW()); /*!50000 SELECT 1 */; SELECT /*+ BKA(t) */ 1 -- x
# y
