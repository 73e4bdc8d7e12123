// The raw tables the collector writes, with the columns it supplies in COPY order.
// `seq` and `txid` have defaults and are never sent.
export const RAW_TABLES = ['ticker_samples', 'trade_samples', 'l2_snap_metrics', 'l3_queue_metrics'] as const;
export type RawTable = (typeof RAW_TABLES)[number];

export const RAW_COLUMNS: Record<RawTable, readonly string[]> = {
  ticker_samples: [
    'run_id', 'symbol', 'bid', 'bid_qty', 'ask', 'ask_qty', 'last', 'volume', 'vwap', 'low', 'high', 'change',
    'change_pct', 'exchange_ts', 'received_at',
  ],
  trade_samples: ['run_id', 'symbol', 'side', 'price', 'qty', 'ord_type', 'trade_id', 'exchange_ts', 'received_at'],
  l2_snap_metrics: [
    'run_id', 'symbol', 'depth', 'is_snapshot', 'bid_px', 'bid_qty', 'ask_px', 'ask_qty', 'checksum', 'checksum_ok',
    'updates_applied', 'exchange_ts', 'received_at',
  ],
  l3_queue_metrics: [
    'run_id', 'symbol', 'bid_px', 'bid_qty', 'bid_orders', 'ask_px', 'ask_qty', 'ask_orders', 'adds', 'modifies',
    'deletes', 'added_qty', 'removed_qty', 'touch_adds', 'touch_deletes', 'checksum', 'checksum_ok', 'exchange_ts',
    'received_at',
  ],
};

/** `COPY kapitaal.<table> (cols) FROM STDIN`: into the partitioned parent, so only its grants are needed. */
export function copyStatement(table: RawTable): string {
  return `copy kapitaal.${table} (${RAW_COLUMNS[table].join(', ')}) from stdin`;
}

/** Short channel names used in counters and logs. */
export const TABLE_CHANNEL: Record<RawTable, string> = {
  ticker_samples: 'ticker',
  trade_samples: 'trade',
  l2_snap_metrics: 'book',
  l3_queue_metrics: 'level3',
};
